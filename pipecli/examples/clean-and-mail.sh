#!/bin/sh
# Mail the stale-deal report, only when something is stale (for cron; see `pipecli examples crontab`).
#
#   clean-and-mail.sh RECIPIENT [pipecli clean options...]
#   clean-and-mail.sh sales@example.com --pipeline Sales --owner bob
#
# The database is pipecli's usual one: $PIPECLI_DB, the config's `db`, or the default file.
# Exit status: 0 nothing stale (no mail) or the report was mailed; otherwise pipecli's or mail's status.
set -u
to="${1:?usage: clean-and-mail.sh RECIPIENT [pipecli clean options...]}"
shift
report=$(mktemp "${TMPDIR:-/tmp}/pipecli-clean.XXXXXX") || exit 1
trap 'rm -f "$report"' EXIT

pipecli clean --check --format text "$@" >"$report"
status=$?
if [ "$status" -eq 0 ]; then
    exit 0                                  # the pipeline is clean: nothing to mail
fi
if [ "$status" -ne 1 ] || [ ! -s "$report" ]; then
    echo "clean-and-mail: pipecli clean failed (exit $status); no mail sent" >&2
    exit "$status"                          # an error, not a finding (its message is on stderr)
fi
mail -s "$(head -n 1 "$report")" "$to" <"$report"
