#!/usr/bin/env bash
# Builds Drydock's images from what the monorepo built (`pnpm build` first), with no network and no registry:
#   drydock/base:bookworm-node<major>   Debian + Node (base/build.sh: debootstrap, docker import)
#   drydock/agent:latest                the agent / task runtime, code-server and the default extensions baked in
#   drydock/server:latest               the server (with the console), the relay, and PostgreSQL for compose
#
#   bash infra/images/build.sh [agent|server ...]      (default: both)
#
# BASE_IMAGE=node:20-bookworm-slim uses a registry's Node image instead of building drydock/base.
# Idempotent: an image whose inputs (the built workspace packages it holds, the lockfile, its recipe under
# infra/images, code-server, the base image) have not changed is kept as it is; DRYDOCK_REBUILD_IMAGES=1
# rebuilds regardless.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(agent server)

if [ -z "${BASE_IMAGE:-}" ]; then
  node_major="$(node --version | sed 's/^v\([0-9]*\).*/\1/')"
  BASE_IMAGE="drydock/base:bookworm-node${node_major}"
  bash "$here/base/build.sh" "$BASE_IMAGE"
fi
base_id="$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")"

for built in apps/agent/dist/main.js apps/agent/dist/prepare.js apps/vscode-extension/dist/drydock.vsix apps/server/dist/main.js apps/relay/dist/main.js apps/console/dist/index.html; do
  [ -e "$repo/$built" ] || { echo "images: $built is missing; run 'pnpm build' first" >&2; exit 1; }
done

stage="$(mktemp -d /var/tmp/drydock-images.XXXXXX)"
trap 'rm -rf "$stage"' EXIT

deploy() { # <package> <dir>: the package's built files and its production dependencies, self-contained
  (cd "$repo" && pnpm --filter "$1" deploy --prod --legacy "$2" >"$stage/deploy.log" 2>&1) || { cat "$stage/deploy.log" >&2; exit 1; }
  # Not needed at run time, and they hold the staging path, which would make every build look new.
  find "$2" -name .bin -type d -prune -exec rm -rf {} +
  rm -f "$2/node_modules/.modules.yaml"
}

# What an image is built from: the workspace packages it holds (built files and manifests), the lockfile,
# its own recipe files, and the base image. Cheap to compute, so an unchanged image costs a second to confirm.
inputs() { # <name> <path…>
  (cd "$repo" && find "${@:2}" pnpm-lock.yaml "infra/images/$1" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; echo "$base_id")
}

up_to_date() { # <name> <recipe>
  [ "${DRYDOCK_REBUILD_IMAGES:-}" != 1 ] && [ "$(docker image inspect -f '{{index .Config.Labels "drydock.recipe"}}' "drydock/$1:latest" 2>/dev/null)" = "$2" ]
}

build() { # <name> <context> <recipe>
  local name="$1" context="$2" recipe="$3" tag="drydock/$1:latest"
  echo "building $tag (offline, on $BASE_IMAGE)"
  local started=$SECONDS
  docker build --network none --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "drydock.recipe=$recipe" \
    -t "$tag" "$context" >"$stage/build-$name.log" 2>&1 || { tail -40 "$stage/build-$name.log" >&2; exit 1; }
  docker image prune --force --filter "label=drydock.recipe" >/dev/null
  echo "built $tag in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

code_server="$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v code-server)")")")")"
[ -f "$code_server/package.json" ] || { echo "images: code-server is not installed (infra/scripts/install-code-server.sh)" >&2; exit 1; }
shared=(packages/contracts/dist packages/contracts/package.json packages/tunnel/dist packages/tunnel/package.json
  apps/agent/dist apps/agent/package.json apps/vscode-extension/dist/drydock.vsix apps/vscode-extension/package.json)

for target in "${targets[@]}"; do
  case "$target" in
    agent)
      recipe="$( { inputs agent "${shared[@]}"; cat "$code_server/package.json"; } | sha256sum | cut -c1-16)"
      if up_to_date agent "$recipe"; then echo "image drydock/agent:latest is up to date"; continue; fi
      mkdir -p "$stage/agent"
      cp "$here/agent/Dockerfile" "$stage/agent/"
      deploy @drydock/agent "$stage/agent/agent"
      cp -al "$code_server" "$stage/agent/code-server" 2>/dev/null || cp -a "$code_server" "$stage/agent/code-server"
      build agent "$stage/agent" "$recipe"
      ;;
    server)
      recipe="$(inputs server "${shared[@]}" apps/server/dist apps/server/package.json apps/relay/dist apps/relay/package.json \
        apps/console/dist apps/console/package.json | sha256sum | cut -c1-16)"
      if up_to_date server "$recipe"; then echo "image drydock/server:latest is up to date"; continue; fi
      mkdir -p "$stage/server"
      cp "$here/server/Dockerfile" "$stage/server/"
      cp -a "$here/server/bin" "$stage/server/bin"
      deploy @drydock/server "$stage/server/server"
      deploy @drydock/relay "$stage/server/relay"
      build server "$stage/server" "$recipe"
      ;;
    *) echo "images: unknown image '$target' (agent, server)" >&2; exit 1 ;;
  esac
done
