#!/usr/bin/env bash
# Drydock on a Docker Swarm (infra/swarm/stack.yml), run against a manager's engine (DOCKER_HOST, or the local one):
#   bash infra/swarm/cluster.sh images   build drydock/agent, drydock/server and drydock/haproxy on the manager's
#                                        engine (offline, from `pnpm build`) and push them to DRYDOCK_REGISTRY
#   bash infra/swarm/cluster.sh up       write the env file once (random secrets), deploy the stack, wait until
#                                        every service runs and the load balancer answers, print a sign-in link
#   bash infra/swarm/cluster.sh down     remove the stack and wait until its services and network are gone
#                                        (the database's volume stays; `purge` removes it too)
#   bash infra/swarm/cluster.sh ps       the stack's tasks, by node
# Settings: the env file (DRYDOCK_CLUSTER_ENV, default infra/swarm/.env), which `up` writes with new secrets when it
# is missing and which holds DRYDOCK_REGISTRY (host:port every node pulls from), DRYDOCK_PUBLIC_URL (the load
# balancer's API address as browsers and the CLI reach it), DRYDOCK_IDE_ORIGIN (its relay address, by name: sessions
# are served on <session>.<host>), DRYDOCK_SHARED_PATH (a directory every manager mounts at the same path: blobs
# and task logs); DRYDOCK_STACK (default drydock) names the stack. infra/README.md ("cluster") says more.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
env_file="${DRYDOCK_CLUSTER_ENV:-$here/.env}"
stack="${DRYDOCK_STACK:-drydock}"

die() { echo "cluster: $*" >&2; exit 1; }
secret() { node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("base64url"))'; }
long_secret() { node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("hex"))'; }

# The env file's settings, exported for `docker stack deploy` (which reads the stack's ${…} from the environment).
load_settings() {
  [ -f "$env_file" ] || die "no $env_file: \`cluster.sh up\` writes one (set DRYDOCK_REGISTRY and the rest first)"
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
  [ -n "${DRYDOCK_REGISTRY:-}" ] || die "DRYDOCK_REGISTRY is not set (in $env_file or the environment)"
}

write_settings() {
  [ -f "$env_file" ] && return 0
  local missing=()
  for name in DRYDOCK_REGISTRY DRYDOCK_PUBLIC_URL DRYDOCK_IDE_ORIGIN DRYDOCK_SHARED_PATH; do
    [ -n "${!name:-}" ] || missing+=("$name")
  done
  [ ${#missing[@]} -eq 0 ] || die "set ${missing[*]} for the first \`up\` (they go in $env_file with the new secrets)"
  (umask 077 && {
    printf 'DRYDOCK_TOKEN=%s\nDRYDOCK_RELAY_TOKEN=%s\nPOSTGRES_PASSWORD=%s\n' "$(secret)" "$(secret)" "$(secret)"
    printf 'DRYDOCK_SIGNING_SECRET=%s\nDRYDOCK_RELAY_COOKIE_SECRET=%s\n' "$(long_secret)" "$(long_secret)"
    printf 'DRYDOCK_REGISTRY=%s\nDRYDOCK_PUBLIC_URL=%s\nDRYDOCK_IDE_ORIGIN=%s\nDRYDOCK_SHARED_PATH=%s\n' \
      "$DRYDOCK_REGISTRY" "$DRYDOCK_PUBLIC_URL" "$DRYDOCK_IDE_ORIGIN" "$DRYDOCK_SHARED_PATH"
  } >"$env_file")
  echo "cluster: wrote $env_file with new secrets"
}

cmd_images() {
  [ -n "${DRYDOCK_REGISTRY:-}" ] || [ ! -f "$env_file" ] || load_settings
  [ -n "${DRYDOCK_REGISTRY:-}" ] || die "DRYDOCK_REGISTRY is not set"
  bash "$repo/infra/images/build.sh" agent server haproxy
  local image started
  for image in agent server haproxy; do
    started=$SECONDS
    docker tag "drydock/$image:latest" "$DRYDOCK_REGISTRY/drydock/$image:latest"
    docker push -q "$DRYDOCK_REGISTRY/drydock/$image:latest" >/dev/null
    echo "cluster: pushed $DRYDOCK_REGISTRY/drydock/$image:latest in $((SECONDS - started)) s"
  done
}

# Until every service of the stack runs as many tasks as it wants (and the healthy ones say so).
wait_running() {
  local deadline=$((SECONDS + ${DRYDOCK_CLUSTER_WAIT_SECONDS:-240})) line pending
  while :; do
    pending="$(docker service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}} {{.Replicas}}' |
      awk '{ split($2, r, "/"); if (r[1] != r[2] || r[2] == 0) print }')"
    [ -z "$pending" ] && break
    if [ $SECONDS -ge "$deadline" ]; then
      echo "cluster: not running after ${DRYDOCK_CLUSTER_WAIT_SECONDS:-240} s:" >&2
      echo "$pending" >&2
      for line in $(echo "$pending" | awk '{print $1}'); do docker service ps --no-trunc "$line" >&2 || true; done
      exit 1
    fi
    sleep 1
  done
}

answers() { # <url>: waits until it answers 200 from this machine
  local deadline=$((SECONDS + 120))
  until node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"; do
    [ $SECONDS -lt $deadline ] || die "$1 does not answer from this machine"
    sleep 1
  done
}

cmd_up() {
  write_settings
  load_settings
  local started=$SECONDS
  docker stack deploy --prune --with-registry-auth -c "$here/stack.yml" "$stack" >/dev/null
  wait_running
  answers "$DRYDOCK_PUBLIC_URL/healthz"
  echo "cluster: stack $stack running in $((SECONDS - started)) s"
  local link
  link="$(DRYDOCK_ENDPOINT="$DRYDOCK_PUBLIC_URL" DRYDOCK_TOKEN="$DRYDOCK_TOKEN" node "$repo/apps/cli/dist/cli.js" console)"
  echo "console: $link  (one-time sign-in link)"
}

cmd_down() {
  docker stack rm "$stack" >/dev/null 2>&1 || true
  # The tasks, then the network: a network goes only once its last task's container has.
  local deadline=$((SECONDS + 120))
  while [ -n "$(docker service ls -q --filter "label=com.docker.stack.namespace=$stack")" ] ||
    [ -n "$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")" ] ||
    [ -n "$(docker ps -q --filter "label=com.docker.stack.namespace=$stack")" ]; do
    [ $SECONDS -lt $deadline ] || die "the stack's services, containers or network are still there after 120 s"
    docker stack rm "$stack" >/dev/null 2>&1 || true
    sleep 1
  done
  # Tasks' services the servers started and could not remove (a server killed with them running).
  local left
  left="$(docker service ls -q --filter label=drydock.attempt)"
  [ -z "$left" ] || docker service rm $left >/dev/null
  echo "cluster: stack $stack removed"
}

case "${1:-}" in
  images) cmd_images ;;
  up) cmd_up ;;
  down) cmd_down ;;
  purge)
    cmd_down
    docker volume rm "${stack}_pgdata" >/dev/null 2>&1 || true
    ;;
  ps) docker stack ps --format '{{.Node}} {{.Name}} {{.CurrentState}} {{.Error}}' "$stack" ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
