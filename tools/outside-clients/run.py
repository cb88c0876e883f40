#!/usr/bin/env python3
"""`make outside-clients`: clients nobody here wrote, against the stack as `make dev` runs it.

1. The reference APIs' own sample code, run as a partner would copy it. Seed 002's Node samples (npm `request`, form data) are kept in seed002/ as the seed prints
them; the one change is a missing `}` in the image sample, which does not parse as
printed. This script starts the stack as `make dev` does (emulator and local-api on free
ports), makes an account with a verified number, fills in only the placeholders (host,
`apikey`, access token; for the update, the values the GET sample printed; for the image,
a file), runs each sample with Node and requires seed 002's 200 envelope from each:

  get-profile      GET  /user/get/profile/
  update-profile   POST /user/update/profile/     with the phone_number GET returned
  profile-image    POST /user/profile/profile-image/
  local-info       GET  /get/local-info/

The update must send no code (an unchanged number is no change); the check reads the
emulator's SMS log before and after.

2. A strict OAuth library, oauth4webapi (oauth.mjs): RFC 8414 discovery from the address
the stack serves on, RFC 9068 validation of an access token from `/auth/login` against the
JWKS the metadata names, and a refresh at the metadata's token endpoint.
"""

import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, what, log):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"seed-clients: {what} did not start:\n{Path(log).read_text()}")


def png(width=8, height=8):
    """A small PNG, written by hand so the script needs nothing beyond the stdlib."""
    pixel = lambda x, y: bytes([x * 30 % 256, y * 30 % 256, 99])
    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def js_string(value):
    return json.dumps(value)[1:-1].replace("'", "\\'")


def main():
    emulator_port, api_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    emulator = f"http://127.0.0.1:{emulator_port}"
    env = dict(os.environ, AWS_ENDPOINT_URL=emulator, AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    logs = tempfile.mkdtemp()
    procs = []
    try:
        procs.append(subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), "tools/emulator/emulator.py", "--port", str(emulator_port), "--quiet-sms"],
            cwd=ROOT, env=env, stdout=open(f"{logs}/emulator.log", "w"), stderr=subprocess.STDOUT))
        wait_for(emulator_port, "the emulator", f"{logs}/emulator.log")
        procs.append(subprocess.Popen(
            ["target/debug/local-api", "serve", "--port", str(api_port), "--table", "seed-clients",
             "--loyalty-standin", "127.0.0.1:0"],
            cwd=ROOT, env=env, stdout=open(f"{logs}/api.log", "w"), stderr=subprocess.STDOUT))
        wait_for(api_port, "local-api", f"{logs}/api.log")
        seed002_samples(api, emulator)
        oauth_library(api, emulator)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def call(url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"{}")


def texts_to(emulator, phone):
    return [m for m in call(f"{emulator}/_emulator/sms") if m["phone"] == phone]


def node(script, *args):
    out = subprocess.run(["node", str(script), *args], capture_output=True, text=True,
                         env=dict(os.environ, NODE_PATH=str(HERE / "node_modules")), timeout=60)
    if out.returncode != 0:
        sys.exit(f"outside-clients: {Path(script).name} failed:\n{out.stderr}")
    return out.stdout


def seed002_samples(api, emulator):
    # An account signed up by phone (seed 000's route), so its number is verified.
    phone = f"+90532{random.randrange(10**7):07d}"
    email = f"node-sample-{random.randrange(16**8):08x}@example.com"
    account = {"first_name": "Ada", "last_name": "Lovelace", "email": email,
               "password": "correct horse battery", "phone": phone, "date_of_birth": "1990-12-10"}
    call(f"{api}/users/register", account)
    code = re.search(r"\b(\d{6})\b", texts_to(emulator, phone)[-1]["message"]).group(1)
    created = call(f"{api}/users/register", dict(account, code=code))
    token = created.get("access_token") or sys.exit(f"seed-clients: no account: {created}")

    work = Path(tempfile.mkdtemp())
    image = work / "me.png"
    image.write_bytes(png())

    def sample(name, values):
        text = (HERE / "seed002" / f"{name}.js").read_text()
        filled = {
            "https://<domain>/<api prefix>/<version>": api,
            "<apikey>": "node-sample-app-key",
            "<access-token>": token,
            "<access token>": token,  # the local-info sample writes it so
            **values,
        }
        for placeholder, value in filled.items():
            text = text.replace(placeholder, value)
        left = re.findall(r"<[a-z_ -]+>", text)
        if left:
            sys.exit(f"seed-clients: {name}: placeholders left unfilled: {left}")
        script = work / f"{name}.js"
        script.write_text(text)
        stdout = node(script)
        try:
            body = json.loads(stdout)
        except ValueError:
            sys.exit(f"seed-clients: {name}: not JSON: {stdout!r}")
        if body.get("status_code") != 200 or body.get("errors") != {}:
            sys.exit(f"seed-clients: {name}: not seed 002's 200 envelope: {body}")
        print(f"seed-clients: {name}: 200 {json.dumps(body)[:100]}")
        return body

    got = sample("get-profile", {})
    user = got["data"]["UserProfile"][0]
    if user["phone_number"] != phone[3:] or user["phone_code"] != "+90":
        sys.exit(f"seed-clients: get-profile: the number reads {user['phone_code']} {user['phone_number']}")
    before = len(texts_to(emulator, phone))
    sample("update-profile", {
        "<first_name>": js_string("Grace"),
        "<last_name>": js_string(user["last_name"]),
        "<email>": js_string(user["email"]),
        "<phone_number>": js_string(user["phone_number"]),
    })
    if len(texts_to(emulator, phone)) != before:
        sys.exit("seed-clients: update-profile: the unchanged number was sent a code")
    again = sample("get-profile", {})["data"]["UserProfile"][0]
    if again["first_name"] != "Grace" or again["phone_number"] != user["phone_number"]:
        sys.exit(f"seed-clients: update-profile: the profile reads {again}")
    stream = f"require('fs').createReadStream({json.dumps(str(image))})"
    uploaded = sample("profile-image", {
        "<image uri>": stream, "<image name>": "me.png",
        "<cropped_image uri>": stream, "<cropped_image name>": "me-cropped.png",
    })
    if not uploaded["data"].get("image_url"):
        sys.exit(f"seed-clients: profile-image: no image_url in {uploaded}")
    sample("local-info", {})
    print("seed-clients: seed 002's four Node samples answered 200, the number sent back unchanged")



def oauth_library(api, emulator):
    # A seed 001 account: sign up, the emailed code, login.
    email = f"oauth-{random.randrange(16**8):08x}@example.com"
    password = "correct horse battery"
    call(f"{api}/api/v1/accounts/users", {"email": email, "password": password, "confirm_password": password,
                                          "first_name": "Oauth", "last_name": "Client"})
    mails = [m for m in call(f"{emulator}/_emulator/email") if email in m["to"]]
    code = re.search(r"\b(\d{6})\b", mails[-1]["body"]).group(1)
    call(f"{api}/users/verify", {"email": email, "code": code})
    tokens = call(f"{api}/auth/login", {"email": email, "password": password})
    if "access_token" not in tokens:
        sys.exit(f"oauth: no login: {tokens}")
    out = json.loads(node(HERE / "oauth.mjs", api, tokens["access_token"], tokens["refresh_token"],
                          "user-profile-api"))
    if out["jwks_uri"] != f"{api}/.well-known/jwks.json" or not out["refreshed"]:
        sys.exit(f"oauth: unexpected: {out}")
    print(f"oauth: oauth4webapi discovered {out['issuer']}, validated an RFC 9068 token "
          f"(client_id {out['client_id']}) with {out['jwks_uri']}, refreshed at {out['token_endpoint']}")


if __name__ == "__main__":
    main()
