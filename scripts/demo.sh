#!/usr/bin/env bash
# make demo: start a local AWS emulator (moto), create a realistic "shop"
# production environment in it, and migrate it with envmig end to end,
# showing every command as you would type it. moto is stopped by PID on
# success, failure or Ctrl-C.
set -euo pipefail
source "$(dirname "$0")/demo-lib.sh"

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
