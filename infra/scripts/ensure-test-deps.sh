#!/usr/bin/env bash
# What `pnpm test` needs beyond Node and pnpm: Debian's Chromium (browser tests, driven by playwright-core),
# what the IDE runtime is built with (a C/C++ compiler, make, python3, and the Kerberos headers for its optional
# module: the agent installs code-server itself, `drydock ide install`), iproute2's `ss`, tini, and a running Docker engine with
# docker-compose and debootstrap (ensure-docker.sh: the Docker executor, the images and the compose stack).
# Does nothing when all are there; installs and starts them when run as root (apt-get); otherwise says what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
[ -e /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
# `ss -K`: the security suite kills a tunnel's TCP connection from outside, as a broken network does.
command -v ss >/dev/null 2>&1 || missing+=(iproute2)
# The e2e runner gives the tunnel soak a PID namespace of its own (util-linux's unshare) with tini as its init.
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v tini >/dev/null 2>&1 || missing+=(tini)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "pnpm test needs ${missing[*]}: run 'sudo bash infra/scripts/ensure-test-deps.sh' once" >&2
    exit 1
  fi
  echo "installing test dependencies: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash "$here/ensure-docker.sh"
