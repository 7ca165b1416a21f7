#!/usr/bin/env bash
# `pnpm test`: installs, builds, and runs every check and test, as CI does.
#   1. the system packages the tests need (infra/scripts/ensure-test-deps.sh), then install and build;
#   2. formatting, lint and type checks, while the IDE runtime the tests' sessions run installs beside them
#      (`drydock ide install`: nothing to do once installed; on a new machine about 90 s, mostly one core
#      compiling SQLite, which the checks' other core would otherwise wait on);
#   3. every package's tests, one package at a time, except the agent's: about 2 minutes, half of it one core
#      compiling SQLite (its IDE runtime install test), they run beside the others, in a PID namespace of their
#      own (with tini as its init, as root with unshare), since they read the process table; then the e2e
#      package, which needs everything built and the machine to itself.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash infra/scripts/ensure-test-deps.sh
pnpm run bootstrap

ide_log="$(mktemp)"
ide_pid=""
cleanup() {
  if [ -n "$ide_pid" ]; then kill -- "$ide_pid" 2>/dev/null || true; fi
  rm -f "$ide_log"
}
trap cleanup EXIT
node apps/cli/dist/cli.js ide install >"$ide_log" 2>&1 &
ide_pid=$!

checks=0
{ pnpm run format:check && pnpm exec turbo run lint typecheck --concurrency=2 --continue; } || checks=$?
ide=0
wait "$ide_pid" || ide=$?
ide_pid=""
sed 's/^/[ide install] /' "$ide_log"
if [ "$checks" != 0 ] || [ "$ide" != 0 ]; then
  echo "pnpm test: stopped before the tests: checks exit $checks, drydock ide install exit $ide" >&2
  exit 1
fi

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1 || ! command -v tini >/dev/null 2>&1; then
  exec pnpm exec turbo run test --concurrency=1 --continue
fi
agent_log="$(mktemp)"
trap 'cleanup; rm -f "$agent_log"' EXIT
unshare --pid --fork --mount-proc tini -s -- pnpm --filter @drydock/agent test >"$agent_log" 2>&1 &
agent_pid=$!
others=0
pnpm exec turbo run test --filter='!@drydock/agent' --filter='!@drydock/e2e' --concurrency=1 --continue ||
  others=$?
agent=0
wait "$agent_pid" || agent=$?
sed 's/^/[agent] /' "$agent_log"
e2e=0
pnpm --filter @drydock/e2e test || e2e=$?
echo "pnpm test: the agent's tests exit $agent, the other packages' $others, e2e $e2e"
[ "$agent" = 0 ] && [ "$others" = 0 ] && [ "$e2e" = 0 ]
