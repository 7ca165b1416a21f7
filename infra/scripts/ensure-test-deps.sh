#!/usr/bin/env bash
# What `pnpm test` needs beyond Node and pnpm: Debian's Chromium (browser tests, driven by playwright-core),
# code-server 4.100.3 (the IDE the relay tests load), and a running Docker engine with docker-compose and
# debootstrap (the Docker executor, the images and the compose stack; Debian's docker.io, started as root).
# Does nothing when all are there; installs and starts them when run as root (apt-get and the npm registry);
# otherwise says what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ command -v code-server >/dev/null 2>&1 && code-server --version 2>/dev/null | head -1 | grep -q '^4\.100\.3 '; } || missing+=(code-server)
packages=()
command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || packages+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || packages+=(debootstrap)
[ ${#packages[@]} -eq 0 ] || missing+=("${packages[@]}")
docker_up() { docker info >/dev/null 2>&1; }
docker_up || [ ${#packages[@]} -gt 0 ] || missing+=(a-running-dockerd)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "pnpm test needs ${missing[*]}: run 'sudo bash infra/scripts/ensure-test-deps.sh' once" >&2
  exit 1
fi
echo "installing test dependencies: ${missing[*]}"
if [ ! -x /usr/bin/chromium ] || [ ${#packages[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium ripgrep libkrb5-dev "${packages[@]}" >/dev/null
fi
bash "$here/install-code-server.sh"

if ! docker_up; then
  # No init system to start it here: dockerd runs in the background, logging to /var/log/dockerd.log.
  echo "starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker_up && break; sleep 0.5; done
  docker_up || { tail -20 /var/log/dockerd.log >&2; echo "dockerd did not start" >&2; exit 1; }
fi
