#!/usr/bin/env bash
# The compose stack (infra/docker-compose.yml), one command each way:
#   bash infra/stack.sh up      build the images if needed, write the env file once, start, wait until healthy,
#                               print a one-time sign-in link for the console
#   bash infra/stack.sh down    stop and remove the containers; the named volumes (executions, PostgreSQL) stay
#   bash infra/stack.sh purge   the same, and remove the volumes too
#   bash infra/stack.sh <any docker-compose command…>   (ps, logs -f server, …)
# Settings: the env file (DRYDOCK_STACK_ENV, default infra/.env; written with random secrets when missing),
# COMPOSE_PROJECT_NAME (default drydock) and DRYDOCK_IMAGE_PREFIX (default drydock: the images' names).
# Needs `pnpm build` done (the images are built from it). Run as root on Debian, it installs and starts what it
# needs (Docker, docker-compose, debootstrap: scripts/ensure-docker.sh); otherwise it names what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
env_file="${DRYDOCK_STACK_ENV:-$here/.env}"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-drydock}"
export DRYDOCK_IMAGE_PREFIX="${DRYDOCK_IMAGE_PREFIX:-drydock}"
export DRYDOCK_TASK_IMAGE="${DRYDOCK_TASK_IMAGE:-$DRYDOCK_IMAGE_PREFIX/agent:latest}"
compose() { docker-compose --project-directory "$here" --file "$here/docker-compose.yml" --env-file "$env_file" "$@"; }

bash "$here/scripts/ensure-docker.sh" || { echo "stack: the above is needed first" >&2; exit 1; }

secret() { node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("base64url"))'; }
setting() { sed -n "s/^$1=//p" "$env_file" | tail -1; }

answers() { # <url>: waits until it answers 200 from this machine
  local deadline=$((SECONDS + 60))
  until node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "stack: $1 does not answer from this machine" >&2; exit 1; }
    sleep 1
  done
}

wait_healthy() { # <service…>
  local deadline=$((SECONDS + ${DRYDOCK_STACK_WAIT_SECONDS:-180})) service id status
  for service in "$@"; do
    while :; do
      id="$(compose ps -q "$service")"
      status="$( [ -n "$id" ] && docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" || echo missing)"
      [ "$status" = healthy ] && break
      if [ "$status" = unhealthy ] || [ "$status" = exited ] || [ $SECONDS -ge "$deadline" ]; then
        echo "stack: $service is $status; its last output:" >&2
        compose logs --tail 40 "$service" >&2 || true
        exit 1
      fi
      sleep 1
    done
    echo "stack: $service is healthy"
  done
}

case "${1:-}" in
  up)
    if [ ! -f "$env_file" ]; then
      # Only the secrets file is private: the umask stays in this subshell, away from the image build below.
      (umask 077 && printf 'DRYDOCK_TOKEN=%s\nDRYDOCK_RELAY_TOKEN=%s\nPOSTGRES_PASSWORD=%s\n' "$(secret)" "$(secret)" "$(secret)" > "$env_file")
      echo "stack: wrote $env_file with new secrets"
    fi
    bash "$here/images/build.sh"
    if ! compose up --detach --remove-orphans; then
      echo "stack: the stack did not come up; the services' last output:" >&2
      compose logs --tail 20 postgres server relay >&2 || true
      exit 1
    fi
    wait_healthy postgres server relay
    console="${DRYDOCK_PUBLIC_URL:-$(setting DRYDOCK_PUBLIC_URL)}"
    console="${console:-http://localhost:${DRYDOCK_PUBLISHED_PORT:-$(setting DRYDOCK_PUBLISHED_PORT | grep . || echo 8484)}}"
    relay="http://localhost:${DRYDOCK_RELAY_PUBLISHED_PORT:-$(setting DRYDOCK_RELAY_PUBLISHED_PORT | grep . || echo 8485)}"
    # Healthy inside the network is not enough: the URL printed below must answer from here.
    answers "$console/healthz" && answers "$console/" && answers "$relay/healthz"
    # A one-time sign-in link, asked of the server with the token (which stays out of every URL).
    link="$(DRYDOCK_ENDPOINT="$console" DRYDOCK_TOKEN="$(setting DRYDOCK_TOKEN)" node "$here/../apps/cli/dist/cli.js" console)"
    echo "console: $link  (one-time sign-in link; \`pnpm drydock console\` with DRYDOCK_ENDPOINT and DRYDOCK_TOKEN set prints another)"
    ;;
  down) compose down --remove-orphans ;;
  purge) compose down --remove-orphans --volumes ;;
  "") sed -n '2,10p' "$0" >&2; exit 2 ;;
  *) compose "$@" ;;
esac
