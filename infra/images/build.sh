#!/usr/bin/env bash
# Builds Drydock's images from what the monorepo built (`pnpm build` first), with no network and no registry:
#   drydock/base:bookworm-node<major>   Debian + Node (base/build.sh: debootstrap, docker import)
#   drydock/agent:latest                the agent / task runtime, the IDE runtime (code-server on its own Node)
#                                       and the default extensions baked in
#   drydock/server:latest               the server (with the console), the relay, and PostgreSQL for compose
#   drydock/registry:latest             an image registry (Debian's docker-registry), for a swarm's engines
#   drydock/haproxy:latest              HAProxy (Debian's), the swarm's load balancer (infra/swarm/haproxy.cfg)
#
#   bash infra/images/build.sh [agent|server|registry|haproxy ...]      (default: agent and server)
#
# DRYDOCK_IMAGE_PREFIX (default drydock) names the images <prefix>/base, <prefix>/agent, <prefix>/server, ….
# The IDE runtime is the one the agent installs on this machine (`drydock ide install`; done here if missing).
#
# BASE_IMAGE=node:20-bookworm-slim uses a registry's Node image instead of building drydock/base.
# Idempotent: an image whose inputs (the built workspace packages it holds, the lockfile, its recipe under
# infra/images, code-server, the base image) have not changed is kept as it is; DRYDOCK_REBUILD_IMAGES=1
# rebuilds regardless.
set -euo pipefail
# What goes into the images must be readable by their non-root users (postgres, a task's user), whatever the
# caller's umask: a umask of 077 here once made PostgreSQL unable to load its own libraries.
umask 022
prefix="${DRYDOCK_IMAGE_PREFIX:-drydock}"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(agent server)

if [ -z "${BASE_IMAGE:-}" ]; then
  node_major="$(node --version | sed 's/^v\([0-9]*\).*/\1/')"
  BASE_IMAGE="${prefix}/base:bookworm-node${node_major}"
  bash "$here/base/build.sh" "$BASE_IMAGE"
fi
base_id="$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")"

require_built() { # what the agent and server images hold; the registry and haproxy images need none of it
  for built in apps/agent/dist/main.js apps/agent/dist/prepare.js apps/vscode-extension/dist/drydock.vsix apps/server/dist/main.js apps/relay/dist/main.js apps/console/dist/index.html; do
    [ -e "$repo/$built" ] || { echo "images: $built is missing; run 'pnpm build' first" >&2; exit 1; }
  done
}

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
  [ "${DRYDOCK_REBUILD_IMAGES:-}" != 1 ] && [ "$(docker image inspect -f '{{index .Config.Labels "drydock.recipe"}}' "$prefix/$1:latest" 2>/dev/null)" = "$2" ]
}

build() { # <name> <context> <recipe>
  local name="$1" context="$2" recipe="$3" tag="$prefix/$1:latest"
  echo "building $tag (offline, on $BASE_IMAGE)"
  local started=$SECONDS
  docker build --network none --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "drydock.recipe=$recipe" \
    -t "$tag" "$context" >"$stage/build-$name.log" 2>&1 || { tail -40 "$stage/build-$name.log" >&2; exit 1; }
  docker image prune --force --filter "label=drydock.recipe" >/dev/null
  echo "built $tag in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# Debian packages for an image, as .deb files to install with no network: apt on this machine works out what the
# base lacks (from the base's own dpkg status) and downloads just that from the mirror it already uses.
debs() { # <dir> <package…>
  [ -e "$stage/dpkg-status" ] || docker run --rm --network none --entrypoint cat "$BASE_IMAGE" /var/lib/dpkg/status >"$stage/dpkg-status"
  mkdir -p "$1/partial"
  apt-get install --download-only --no-install-recommends -y -qq -o Debug::NoLocking=1 \
    -o Dir::State::status="$stage/dpkg-status" -o Dir::Cache::archives="$1" "${@:2}" >"$stage/apt.log" 2>&1 \
    || { cat "$stage/apt.log" >&2; echo "images: could not download ${*:2} (apt-get update first?)" >&2; exit 1; }
  rm -rf "$1/partial" "$1/lock"
}

# An image of a Debian package: its recipe is its files under infra/images, the package's version and the base.
debian_image() { # <name> <package>
  local recipe version
  version="$(apt-cache show --no-all-versions "$2" 2>/dev/null | sed -n 's/^Version: //p' | head -1)"
  [ -n "$version" ] || { echo "images: apt knows no package $2 (apt-get update first?)" >&2; exit 1; }
  recipe="$( { (cd "$here/$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); echo "$2 $version $base_id"; } | sha256sum | cut -c1-16)"
  if up_to_date "$1" "$recipe"; then echo "image $prefix/$1:latest is up to date"; return; fi
  mkdir -p "$stage/$1"
  cp -a "$here/$1/." "$stage/$1/"
  debs "$stage/$1/debs" "$2"
  build "$1" "$stage/$1" "$recipe"
}

# The IDE runtime as the agent installed it on this machine (its launcher is <runtime>/bin/code-server).
ide_runtime() {
  local bin
  bin="$(cd "$repo" && node apps/agent/dist/prepare.js --print-code-server)" || { echo "images: the IDE runtime is not installed and could not be (above)" >&2; exit 1; }
  dirname "$(dirname "$bin")"
}
shared=(packages/contracts/dist packages/contracts/package.json packages/tunnel/dist packages/tunnel/package.json
  packages/sdk/dist packages/sdk/package.json
  apps/agent/dist apps/agent/package.json apps/vscode-extension/dist/drydock.vsix apps/vscode-extension/package.json)

for target in "${targets[@]}"; do
  case "$target" in
    agent)
      require_built
      runtime="$(ide_runtime)"
      recipe="$( { inputs agent "${shared[@]}"; basename "$runtime"; } | sha256sum | cut -c1-16)"
      if up_to_date agent "$recipe"; then echo "image $prefix/agent:latest is up to date"; continue; fi
      mkdir -p "$stage/agent/ide"
      cp "$here/agent/Dockerfile" "$stage/agent/"
      deploy @drydock/agent "$stage/agent/agent"
      # A copy (not hard links): made readable by all here without touching the user's cache.
      cp -a "$runtime" "$stage/agent/ide/"
      chmod -R a+rX "$stage/agent/ide"
      build agent "$stage/agent" "$recipe"
      ;;
    server)
      require_built
      recipe="$(inputs server "${shared[@]}" apps/server/dist apps/server/package.json apps/relay/dist apps/relay/package.json \
        apps/console/dist apps/console/package.json | sha256sum | cut -c1-16)"
      if up_to_date server "$recipe"; then echo "image $prefix/server:latest is up to date"; continue; fi
      mkdir -p "$stage/server"
      cp "$here/server/Dockerfile" "$stage/server/"
      cp -a "$here/server/bin" "$stage/server/bin"
      deploy @drydock/server "$stage/server/server"
      deploy @drydock/relay "$stage/server/relay"
      build server "$stage/server" "$recipe"
      ;;
    registry) debian_image registry docker-registry ;;
    haproxy) debian_image haproxy haproxy ;;
    *) echo "images: unknown image '$target' (agent, server, registry, haproxy)" >&2; exit 1 ;;
  esac
done
