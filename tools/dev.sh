#!/usr/bin/env bash
# `make dev`: the emulator on 127.0.0.1:$EMULATOR_PORT (DynamoDB, SNS, Secrets Manager; it
# prints every SMS sent) and the local API on 127.0.0.1:$API_PORT. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

EMULATOR_PORT=${EMULATOR_PORT:-4566}
API_PORT=${API_PORT:-3000}
export AWS_ENDPOINT_URL="http://127.0.0.1:${EMULATOR_PORT}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export TABLE_NAME="${TABLE_NAME:-user-profile-dev}"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for port in "$EMULATOR_PORT" "$API_PORT"; do
  if port_open "$port"; then
    echo "make dev: port $port is already in use (another make dev?). Stop it or set EMULATOR_PORT/API_PORT." >&2
    exit 1
  fi
done

.venv/bin/python tools/emulator/emulator.py --port "$EMULATOR_PORT" &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 100); do port_open "$EMULATOR_PORT" && break; sleep 0.1; done
port_open "$EMULATOR_PORT" || { echo "make dev: the emulator did not start" >&2; exit 1; }

# The loyalty stand-in: on $LOYALTY_PORT when set; else on 4580 (events/env.json's, for the
# SAM CLI) when that is free, or on a free port (printed) when another make dev holds it.
if [ -n "${LOYALTY_PORT:-}" ]; then
  if port_open "$LOYALTY_PORT"; then
    echo "make dev: port $LOYALTY_PORT (LOYALTY_PORT) is already in use." >&2
    exit 1
  fi
  standin="127.0.0.1:${LOYALTY_PORT}"
elif port_open 4580; then
  standin="127.0.0.1:0"
else
  standin="127.0.0.1:4580"
fi

target/debug/local-api serve --port "$API_PORT" --table "$TABLE_NAME" --loyalty-standin "$standin"
