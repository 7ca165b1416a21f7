#!/usr/bin/env bash
# The e2e suite, one file at a time (they start real servers, PostgreSQL, agents and browsers on 2 cores) —
# except two long files that share nothing: the 5-minute tunnel soak (mostly waiting on a typing loop) runs
# beside the fresh-machine test (mostly installing and building in a container). The soak gets a PID namespace
# of its own, with tini as its init to reap orphans, so neither sees the other's processes: the tests read the
# process table. Without root, unshare or tini — or with file arguments, or DRYDOCK_E2E_SERIAL=1 — every file
# runs in turn, as vitest alone would run them.
set -uo pipefail
cd "$(dirname "$0")/.."

SOAK=src/security/tunnel.test.ts
FRESH=src/fresh-machine.test.ts

if [ "$#" -gt 0 ] || [ -n "${DRYDOCK_E2E_SERIAL:-}" ] || [ "$(id -u)" != 0 ] ||
  ! command -v unshare >/dev/null 2>&1 || ! command -v tini >/dev/null 2>&1; then
  exec vitest run "$@"
fi

soak_log="$(mktemp)"
trap 'rm -f "$soak_log"' EXIT
echo "e2e: $SOAK (in a PID namespace of its own) beside $FRESH; then every other file, one at a time"
unshare --pid --fork --mount-proc tini -s -- vitest run "$SOAK" >"$soak_log" 2>&1 &
soak_pid=$!
vitest run "$FRESH"
fresh_rc=$?
wait "$soak_pid"
soak_rc=$?
sed 's/^/[soak] /' "$soak_log"

vitest run --exclude "$SOAK" --exclude "$FRESH"
rest_rc=$?

echo "e2e: $FRESH rc=$fresh_rc, $SOAK rc=$soak_rc, the other files rc=$rest_rc"
[ "$fresh_rc" = 0 ] && [ "$soak_rc" = 0 ] && [ "$rest_rc" = 0 ]
