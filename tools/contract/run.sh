#!/usr/bin/env bash
# `make contract`: the stack as `make dev` runs it (emulator + local-api, on free ports),
# fuzzed by Schemathesis against openapi.yaml with every check, once as a user and once
# as an API token with every scope. Fails on any server error, response-schema
# violation, undocumented status or content type, or schema-valid request refused.
set -euo pipefail
cd "$(dirname "$0")/../.."

MAX_EXAMPLES=${MAX_EXAMPLES:-25}
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
EMULATOR_PORT=$(free_port)
API_PORT=$(free_port)
export AWS_ENDPOINT_URL="http://127.0.0.1:${EMULATOR_PORT}" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export TABLE_NAME=contract
# One worker: CPython 3.11 can fail compiling in two threads at once ("AST constructor
# recursion depth mismatch"), which Schemathesis reports as a runtime error.
# Sign-ups are fuzzed by the thousand from one address: lift the per-source budget so they
# reach their rules (its 429 is tested in tests/tests/integration/hardening.rs).
export SIGNUPS_PER_SOURCE_PER_HOUR=1000000
# Texts too: the hour's caps would answer the fuzzed sign-ups and number changes 429.
export SMS_MAX_PER_HOUR=1000000 SMS_MAX_PER_HOUR_TO_NEW_NUMBERS=1000000
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

log=$(mktemp -d)
.venv/bin/python tools/emulator/emulator.py --port "$EMULATOR_PORT" --quiet-sms >"$log/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator ${api:-} 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 150); do port_open "$EMULATOR_PORT" && break; sleep 0.1; done
target/debug/local-api serve --port "$API_PORT" --table "$TABLE_NAME" --loyalty-standin 127.0.0.1:0 >"$log/api.log" 2>&1 &
api=$!
for _ in $(seq 1 150); do port_open "$API_PORT" && break; sleep 0.1; done
port_open "$API_PORT" || { cat "$log/api.log" >&2; echo "contract: local-api did not start" >&2; exit 1; }

# The user is a real account (signed up, email verified, logged in), so email and phone
# changes reach their flows rather than "this account has no password".
user_token=$(.venv/bin/python - "$API_PORT" "$EMULATOR_PORT" <<'PY'
import json, re, sys, urllib.request
api, emulator = (f"http://127.0.0.1:{p}" for p in sys.argv[1:3])
def post(path, body):
    req = urllib.request.Request(api + path, json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")
email, password = "contract@example.com", "contract-password-1"  # CONTRACT_EMAIL below
post("/api/v1/accounts/users", {"email": email, "password": password, "confirm_password": password,
                                "first_name": "Contract", "last_name": "User"})
mails = json.load(urllib.request.urlopen(emulator + "/_emulator/email"))
code = re.search(r"\b(\d{6})\b", [m for m in mails if email in m["to"]][-1]["body"]).group(1)
post("/users/verify", {"email": email, "code": code})
print(post("/auth/login", {"email": email, "password": password})["access_token"])
PY
)
api_token=$(target/debug/profilectl token create --name contract \
  --scope profiles:read,profiles:write,ci:read,ci:write,segments:write,users:read,users:write,users:delete 2>/dev/null)

# The trailing-slash twins are documented as the literal paths their clients call
# (`/users/profile/`), so they are fuzzed like every other operation.
# Checks: all but `unsupported_method`, set in schemathesis.toml (per-operation settings
# there would lose to a --checks flag).
export CONTRACT_EMAIL=contract@example.com
export PYTHONPATH="tools/contract${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=hooks
run() {
  local who=$1 token=$2 schema=${3:-openapi.yaml}
  shift 3 || shift $#
  echo "contract: as $who"
  .venv-contract/bin/schemathesis --config-file tools/contract/schemathesis.toml run "$schema" \
    --url "http://127.0.0.1:${API_PORT}" \
    -H "Authorization: Bearer ${token}" \
    --max-examples "$MAX_EXAMPLES" --workers 1 \
    --warnings off \
    --seed "${SEED:-1}" "$@"
}
status=0
run "a user" "$user_token" openapi.yaml || status=1
run "an API token with every scope" "$api_token" openapi.yaml || status=1

# The run must be able to fail: a schema looser than the service (a segment priority up
# to 2,000,000 where the service stops at 1,000,000) is caught.
loose="$log/loose-openapi.yaml"
sed 's/^\( *maximum: \)1000000$/\12000000/' openapi.yaml >"$loose"
grep -q 'maximum: 2000000$' "$loose" || { echo "contract: could not loosen the schema" >&2; exit 1; }
if run "an API token, against a loosened schema" "$api_token" "$loose" \
    --include-operation-id putSegment >"$log/loose.log" 2>&1; then
  echo "contract: a loosened schema passed; the run cannot fail" >&2
  status=1
else
  echo "contract: a loosened schema fails it, as it should"
fi
exit $status
