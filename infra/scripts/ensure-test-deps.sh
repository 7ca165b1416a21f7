#!/usr/bin/env bash
# What `pnpm test` needs beyond Node and pnpm: Debian's Chromium (browser tests, driven by playwright-core)
# and code-server 4.100.3 (the IDE the relay tests load). Does nothing when both are there; installs them
# when run as root (apt-get and the npm registry); otherwise says what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ command -v code-server >/dev/null 2>&1 && code-server --version 2>/dev/null | head -1 | grep -q '^4\.100\.3 '; } || missing+=(code-server)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "pnpm test needs ${missing[*]}: run 'sudo bash infra/scripts/ensure-test-deps.sh' once" >&2
  exit 1
fi
echo "installing test dependencies: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium ripgrep libkrb5-dev >/dev/null
bash "$here/install-code-server.sh"
