#!/usr/bin/env bash
# A running Docker engine with docker-compose, debootstrap and docker-registry (the images are built offline on a debootstrapped
# base): what `pnpm stack:up` and the container tests need. Does nothing when all are there. Run as root on
# Debian, installs Debian's docker.io, docker-compose and debootstrap and starts dockerd when they are missing
# (there is no init system to start it here: it runs in the background, logging to /var/log/dockerd.log);
# otherwise names what is missing and the command that installs it.
set -euo pipefail
packages=()
command -v docker >/dev/null 2>&1 || packages+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || packages+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || packages+=(debootstrap)
# The registry a swarm's nodes pull task images from; the CLI's tests push to one on loopback.
command -v docker-registry >/dev/null 2>&1 || packages+=(docker-registry)
docker_up() { docker info >/dev/null 2>&1; }
if [ ${#packages[@]} -eq 0 ] && docker_up; then exit 0; fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  [ ${#packages[@]} -eq 0 ] || echo "missing: ${packages[*]} (Debian: sudo apt-get install -y ${packages[*]})" >&2
  docker_up || [ ${#packages[@]} -gt 0 ] || echo "cannot reach the Docker engine: start dockerd (sudo dockerd &), or add yourself to the docker group" >&2
  exit 1
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing ${packages[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
if ! docker_up; then
  echo "starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker_up && break; sleep 0.5; done
  docker_up || { tail -20 /var/log/dockerd.log >&2; echo "dockerd did not start" >&2; exit 1; }
fi
