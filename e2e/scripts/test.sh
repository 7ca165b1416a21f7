#!/usr/bin/env bash
# The e2e suite. The files start real servers, PostgreSQL, agents and browsers on 2 cores, so most run one at a
# time; but the fresh-machine test (mostly installing and building in a container, 9–10 minutes) has company:
# three lanes of files that build nothing on the machine's Docker engine (the fresh machine's cleanup removes
# the images made there while it ran), each lane one file at a time, in a PID namespace of its own with tini as
# its init to reap orphans, so that no lane sees another's processes: the tests read the process table. The
# first lane holds the 5-minute tunnel soak (mostly waiting on a typing loop), then short files that were the
# last phase's (it ended minutes before the fresh machine); the third, the multi-node test
# (src/cluster), whose three Docker engines are its own, in network namespaces (it only reads the machine's
# engine's base image). Then every other file runs in turn, tunnel-death.test first. Without root, unshare or
# tini — or with file arguments, or DRYDOCK_E2E_SERIAL=1 — every file runs in turn, as vitest alone would run
# them.
set -uo pipefail
cd "$(dirname "$0")/.."

FRESH=src/fresh-machine.test.ts
# Each lane ends before the fresh-machine test does (about 10 minutes each on the CI machine).
LANES=(
  "src/security/tunnel.test.ts src/teams/isolation.test.ts src/reuse/cache.test.ts src/security/relay.test.ts src/postmortem/choices.test.ts src/ide-relay.test.ts src/security/data-dir.test.ts src/teams/sign-in-link.test.ts src/oidc.test.ts src/security/replaced-tunnel.test.ts src/ide-runtime.test.ts src/local-run.test.ts"
  "src/console.test.ts src/security/api.test.ts src/teams/audit-journey.test.ts src/teams/share-session.test.ts src/remote.test.ts src/reuse/recover.test.ts src/reuse/fork.test.ts src/extension.test.ts src/interactive.test.ts src/restart.test.ts src/security/ide-port.test.ts"
  "src/cluster/cluster.test.ts"
)

if [ "$#" -gt 0 ] || [ -n "${DRYDOCK_E2E_SERIAL:-}" ] || [ "$(id -u)" != 0 ] ||
  ! command -v unshare >/dev/null 2>&1 || ! command -v tini >/dev/null 2>&1; then
  exec vitest run "$@"
fi

logs=()
pids=()
trap 'rm -f "${logs[@]}"' EXIT
echo "e2e: $FRESH beside ${#LANES[@]} lanes (each in a PID namespace of its own, its files in turn); then every other file, one at a time"
for lane in "${LANES[@]}"; do
  log="$(mktemp)"
  logs+=("$log")
  # shellcheck disable=SC2086 # a lane is a list of files
  unshare --pid --fork --mount-proc tini -s -- vitest run $lane >"$log" 2>&1 &
  pids+=($!)
done
vitest run "$FRESH"
fresh_rc=$?

summary="$FRESH rc=$fresh_rc"
failed=$fresh_rc
excluded=(--exclude "$FRESH")
for i in "${!LANES[@]}"; do
  wait "${pids[$i]}"
  rc=$?
  sed "s/^/[lane $((i + 1))] /" "${logs[$i]}"
  summary+=", lane $((i + 1)) (${LANES[$i]}) rc=$rc"
  [ "$rc" = 0 ] || failed=1
  for file in ${LANES[$i]}; do excluded+=(--exclude "$file"); done
done

# The tunnel-death bound (1 s) first, on a machine at rest: after compose.test, the engine is still deleting
# the gigabytes of images that file built, and everything runs slower.
QUIET=src/security/tunnel-death.test.ts
vitest run "$QUIET"
quiet_rc=$?
vitest run "${excluded[@]}" --exclude "$QUIET"
rest_rc=$?
[ "$quiet_rc" = 0 ] || rest_rc=$quiet_rc

echo "e2e: $summary, the other files rc=$rest_rc"
[ "$failed" = 0 ] && [ "$rest_rc" = 0 ]
