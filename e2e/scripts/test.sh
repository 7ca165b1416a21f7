#!/usr/bin/env bash
# The e2e suite, one file at a time (they start real servers, PostgreSQL, agents and browsers on 2 cores) —
# except that the fresh-machine test (mostly installing and building in a container, 8–9 minutes) has company:
# the 5-minute tunnel soak (mostly waiting on a typing loop) and a few files that use no Docker (the fresh
# machine's cleanup removes the images made while it ran), one at a time, in a PID namespace of their own with
# tini as its init to reap orphans, so neither side sees the other's processes: the tests read the process
# table. Without root, unshare or tini — or with file arguments, or DRYDOCK_E2E_SERIAL=1 — every file runs in
# turn, as vitest alone would run them.
set -uo pipefail
cd "$(dirname "$0")/.."

FRESH=src/fresh-machine.test.ts
# The soak and about 3 minutes more, to end before the fresh-machine test does.
BESIDE=(src/security/tunnel.test.ts src/console.test.ts src/security/api.test.ts
  src/teams/audit-journey.test.ts src/teams/share-session.test.ts)

if [ "$#" -gt 0 ] || [ -n "${DRYDOCK_E2E_SERIAL:-}" ] || [ "$(id -u)" != 0 ] ||
  ! command -v unshare >/dev/null 2>&1 || ! command -v tini >/dev/null 2>&1; then
  exec vitest run "$@"
fi

beside_log="$(mktemp)"
trap 'rm -f "$beside_log"' EXIT
echo "e2e: ${BESIDE[*]} (in a PID namespace of their own, in turn) beside $FRESH; then every other file, one at a time"
unshare --pid --fork --mount-proc tini -s -- vitest run "${BESIDE[@]}" >"$beside_log" 2>&1 &
beside_pid=$!
vitest run "$FRESH"
fresh_rc=$?
wait "$beside_pid"
beside_rc=$?
sed 's/^/[beside] /' "$beside_log"

excluded=()
for file in "$FRESH" "${BESIDE[@]}"; do excluded+=(--exclude "$file"); done
vitest run "${excluded[@]}"
rest_rc=$?

echo "e2e: $FRESH rc=$fresh_rc, ${BESIDE[*]} rc=$beside_rc, the other files rc=$rest_rc"
[ "$fresh_rc" = 0 ] && [ "$beside_rc" = 0 ] && [ "$rest_rc" = 0 ]
