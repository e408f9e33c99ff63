#!/usr/bin/env bash
# make demo: start a local AWS emulator (moto), create a realistic "shop"
# production environment in it, and migrate it with envmig end to end,
# showing every command as you would type it. moto is stopped by PID on
# success, failure or Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source scripts/moto-env.sh

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }

echo "==> building envmig"
go build -o bin/envmig ./cmd/envmig
go build -o bin/demo-seed ./scripts/demo-seed
export PATH="$root/bin:$PATH"

port="$("$ENVMIG_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
work="$(mktemp -d "${TMPDIR:-/tmp}/envmig-demo.XXXXXX")"
log="$work/moto.log"
echo "==> starting the AWS emulator (moto) on 127.0.0.1:$port"
if command -v setsid >/dev/null; then
  setsid "$ENVMIG_PYTHON" -m moto.server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
else
  "$ENVMIG_PYTHON" -m moto.server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
fi
moto_pid=$!
stop() {
  kill -TERM -- "-$moto_pid" 2>/dev/null || kill -TERM "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

for _ in $(seq 1 100); do
  if "$ENVMIG_PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then echo "moto exited:"; cat "$log"; exit 1; fi
  sleep 0.2
done

# Point the SDK's default chain at the emulator, with throwaway credentials.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo-secret-key AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export ENVMIG_HEARTBEAT=2s

echo "==> creating the shop production environment in the emulator"
demo-seed -uploads 1500 -assets 2000 -instances 3

cp examples/demo/shop.envmig.hcl "$work/"
cd "$work"
run() { echo; bold "\$ $*"; "$@"; }

run envmig validate
run envmig plan -out plan.json
echo; bold "\$ envmig show -markdown plan.json > plan.md"
envmig show -markdown plan.json > plan.md
echo "(wrote plan.md: $(wc -c < plan.md) bytes, ready to post as a pull-request comment)"
run envmig apply -auto-approve plan.json
run envmig status
run envmig plan
run envmig cleanup -auto-approve
echo
bold "Demo complete: the database is encrypted and resized under its original name, the assets moved, and nothing of the run is left."
