# Shared by make demo and make demo-stack (sourced, not run): build envmig
# and demo-seed into bin/, start moto on a free loopback port, wait until it
# answers, point the SDK's default chain at it with throwaway credentials,
# and stop it by PID (its process group) on success, failure or Ctrl-C.
# Leaves $root, $work (a temporary directory removed on exit) and bold().
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source scripts/moto-env.sh

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }

echo "==> building envmig"
go build -o bin/envmig ./cmd/envmig
go build -o bin/demo-seed ./scripts/demo-seed
export PATH="$root/bin:$PATH"

work="$(mktemp -d "${TMPDIR:-/tmp}/envmig-demo.XXXXXX")"
log="$work/moto.log"
echo "==> starting the AWS emulator (moto)"
# moto binds a port the kernel picks (-p 0) and names it in its log: a port
# picked beforehand could be taken by another connection before moto binds it.
if command -v setsid >/dev/null; then
  setsid "$ENVMIG_PYTHON" -m moto.server -H 127.0.0.1 -p 0 >"$log" 2>&1 &
else
  "$ENVMIG_PYTHON" -m moto.server -H 127.0.0.1 -p 0 >"$log" 2>&1 &
fi
moto_pid=$!
stop() {
  kill -TERM -- "-$moto_pid" 2>/dev/null || kill -TERM "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

port=""
for _ in $(seq 1 300); do
  port="$(sed -n 's|.*Running on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -1)"
  [ -n "$port" ] && break
  if ! kill -0 "$moto_pid" 2>/dev/null; then echo "moto exited:"; cat "$log"; exit 1; fi
  sleep 0.2
done
if [ -z "$port" ]; then echo "moto did not say where it listens within 60 s:"; cat "$log"; exit 1; fi
echo "==> moto listens on 127.0.0.1:$port"
ready=""
for _ in $(seq 1 300); do
  if "$ENVMIG_PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then ready=1; break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then echo "moto exited:"; cat "$log"; exit 1; fi
  sleep 0.2
done
if [ -z "$ready" ]; then echo "moto did not answer on 127.0.0.1:$port within 60 s:"; cat "$log"; exit 1; fi

# Point the SDK's default chain at the emulator, with throwaway credentials.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo-secret-key AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export ENVMIG_HEARTBEAT=2s
