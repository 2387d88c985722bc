#!/usr/bin/env bash
# A seller's session, as a script: add leads, move them, log touches, look at the board.
# Run it against a scratch database:  PIPECLI_DB=/tmp/scratch.db bash pipecli/examples/session.sh
# (installed: pipecli examples session.sh | PIPECLI_DB=/tmp/scratch.db bash)
set -euo pipefail
pipecli="${PIPECLI:-pipecli}"

anna=$($pipecli add-lead "Anna Rossi" --company "Rossi Srl" --email anna@rossi.it \
        --value 4500 --source referral --owner marco --expected-close 2026-12-20 --at "10 days ago")
ben=$($pipecli add-lead "Ben Ode" --company "Ode Ltd" --value "12.000,00" --source web --owner giulia --at "8 days ago")

$pipecli log "$anna" call --note "intro call, wants a demo" --at "9 days ago"
$pipecli move "$anna" Contact --at "9 days ago"
$pipecli move "$anna" Meeting --at "5 days ago"
$pipecli move "$ben" Contact --at "2 days ago"
$pipecli move "$ben" lost --reason "price"

$pipecli list --status open --sort value
$pipecli board
$pipecli show "$anna"
$pipecli list --format csv > /dev/null   # for a spreadsheet
$pipecli list --status all --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)), "leads")'
