#!/usr/bin/env bash
# `make browser-test`: the stack as `make dev` runs it (emulator + local-api, on free
# ports), and the account page at http://localhost:<port>/account/ driven in headless
# Chromium (Debian's chromium and chromium-driver) with a virtual WebAuthn authenticator.
# Screenshots go to target/account-page/.
set -euo pipefail
cd "$(dirname "$0")/../.."

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
EMULATOR_PORT=$(free_port)
API_PORT=$(free_port)
export AWS_ENDPOINT_URL="http://127.0.0.1:${EMULATOR_PORT}" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export TABLE_NAME=account-page
# Browsers refuse an IP address as a relying party id: the page is opened at localhost.
export WEBAUTHN_RP_ID=localhost WEBAUTHN_ORIGINS="http://localhost:${API_PORT}"
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

out=target/account-page
mkdir -p "$out"
.venv/bin/python tools/emulator/emulator.py --port "$EMULATOR_PORT" --quiet-sms >"$out/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator ${api:-} 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 150); do port_open "$EMULATOR_PORT" && break; sleep 0.1; done
target/debug/local-api serve --port "$API_PORT" --table "$TABLE_NAME" --loyalty-standin 127.0.0.1:0 >"$out/api.log" 2>&1 &
api=$!
for _ in $(seq 1 150); do port_open "$API_PORT" && break; sleep 0.1; done
port_open "$API_PORT" || { cat "$out/api.log" >&2; echo "browser-test: local-api did not start" >&2; exit 1; }

.venv-browser/bin/python tools/account-page/test_account_page.py \
  --page "http://localhost:${API_PORT}/account/" \
  --emulator "http://127.0.0.1:${EMULATOR_PORT}" \
  --screenshots "$out"

# What `make publish-page` uploads, checked against the emulator's S3.
.venv/bin/python tools/account-page/check_publish.py
