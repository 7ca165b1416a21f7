#!/usr/bin/env bash
# Installs code-server 4.100.3 (the last release that runs on Node 20) from the npm registry on a machine
# with no other network. Its postinstall wants three things this machine does not give it by default:
#   - its postinstall runs nested `npm install`s (lib/vscode, its extensions); run from inside npm's global
#     install (or `npm rebuild` of the package) they inherit npm_config_global and fail at random
#     (ENOENT/ENOTEMPTY while unpacking); run on their own they succeed. So we install with --ignore-scripts,
#     rebuild the one top-level native module (argon2, built from source: its prebuilt binary is on GitHub),
#     then run the package's postinstall.sh ourselves, as npm would (npm user agent, unsafe-perm, npm_config_yes);
#   - Debian's libkrb5-dev for a native module it builds;
#   - ripgrep: @vscode/ripgrep downloads a binary from GitHub unless its cache already holds the tarball,
#     so we put Debian's `rg` into that cache for every @vscode/ripgrep version the registry has.
# Idempotent: does nothing when the right code-server is already on PATH.
set -euo pipefail

VERSION="${CODE_SERVER_VERSION:-4.100.3}"
if command -v code-server >/dev/null 2>&1 && code-server --version 2>/dev/null | head -1 | grep -q "^${VERSION} "; then
  echo "code-server ${VERSION} already installed: $(command -v code-server)"
  exit 0
fi

if ! command -v rg >/dev/null 2>&1 || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "install-code-server: run as root (it needs apt-get and npm -g)" >&2; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ripgrep libkrb5-dev >/dev/null
fi

tmp="${TMPDIR:-/tmp}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$(command -v rg)" "$work/rg"
tar -C "$work" -czf "$work/rg.tar.gz" rg
asset="ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
for v in $(npm view @vscode/ripgrep versions --json | tr -d '[]", ' | tr '\n' ' '); do
  mkdir -p "$tmp/vscode-ripgrep-cache-$v"
  cp "$work/rg.tar.gz" "$tmp/vscode-ripgrep-cache-$v/$asset"
done

npm install --global --ignore-scripts --no-fund --no-audit "code-server@${VERSION}"
dir="$(npm root --global)/code-server"
(cd "$dir" && npm rebuild argon2 >/dev/null 2>&1)
(cd "$dir" && npm_config_user_agent="npm/$(npm --version) node/$(node --version) linux x64" npm_config_unsafe_perm=true \
  npm_config_yes=true sh ./postinstall.sh)
code-server --version | head -1
