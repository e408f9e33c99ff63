#!/usr/bin/env bash
# make demo-stack: start a local AWS emulator (moto), create the stack of
# examples/cloudformation from env-v1.yaml as its pipeline would, and
# migrate it to env-v2.yaml with strategy stack-swap, showing every command
# as you would type it. moto is stopped by PID on success, failure or
# Ctrl-C.
set -euo pipefail
source "$(dirname "$0")/demo-lib.sh"

echo "==> creating the stack shop-staging from examples/cloudformation/env-v1.yaml in the emulator"
demo-seed -stack examples/cloudformation -uploads 500

cp examples/cloudformation/staging.envmig.hcl examples/cloudformation/env-v2.yaml "$work/"
cd "$work"
run() { echo; bold "\$ $*"; "$@"; }

run envmig validate
run envmig plan -out plan.json
run envmig apply -auto-approve plan.json
run envmig status
run envmig cleanup -auto-approve
run envmig plan
echo
bold "Demo complete: shop-staging runs env-v2.yaml under its own name, restored from the verified temporary copy; its bucket holds what it held; no temporary stack is left."
