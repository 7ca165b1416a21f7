#!/usr/bin/env bash
# Builds Drydock's base image offline: a minimal Debian rootfs from Debian's packages (debootstrap, from the
# mirror this machine's apt already uses), this machine's Node.js and npm added, then `docker import`.
# No image registry is involved. Users with a registry skip this and pass `--build-arg BASE_IMAGE=node:20-bookworm-slim`.
#
#   bash infra/images/base/build.sh [tag]        (default tag: drydock/base:bookworm-node<major>)
#
# The image trusts the certificate authorities this machine added (/usr/local/share/ca-certificates), so npm
# behind a TLS-inspecting proxy works in ImageSpec builds as it does here.
#
# Idempotent: does nothing when the tag exists with the same recipe (this script, Node's version, the added
# CAs); DRYDOCK_REBUILD_BASE=1 forces a rebuild.
set -euo pipefail

node_version="$(node --version)"
major="${node_version%%.*}"
tag="${1:-drydock/base:bookworm-node${major#v}}"
extra_cas=(/usr/local/share/ca-certificates/*.crt)
[ -e "${extra_cas[0]}" ] || extra_cas=()
recipe="$( { cat "$0"; echo "$node_version"; [ ${#extra_cas[@]} -eq 0 ] || cat "${extra_cas[@]}"; } | sha256sum | cut -c1-16)"
if [ "${DRYDOCK_REBUILD_BASE:-}" != 1 ] && [ "$(docker image inspect -f '{{index .Config.Labels "drydock.recipe"}}' "$tag" 2>/dev/null)" = "$recipe" ]; then
  echo "base image $tag is up to date (node $node_version)"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "base image: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

# The Debian mirror apt already uses (deb822 sources or the classic list), so nothing here names a host.
# Either file may be missing (a debootstrapped machine has only the classic list): no match is not an error.
mirror="$(sed -n 's/^URIs:[[:space:]]*\([^ ]*\/debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 || true)"
[ -n "$mirror" ] || mirror="$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
[ -n "$mirror" ] || { echo "base image: no Debian mirror found in /etc/apt sources" >&2; exit 1; }

work="$(mktemp -d /var/tmp/drydock-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
echo "base image: debootstrap bookworm (minbase) into $root"
# ca-certificates: npm over https in ImageSpec builds; libkrb5-3/libgssapi-krb5-2: code-server's kerberos module;
# git: the IDE's source control; tini: PID 1 that reaps the task's orphans; procps: ps/kill in the IDE's terminal.
debootstrap --variant=minbase --include=ca-certificates,libkrb5-3,libgssapi-krb5-2,git,tini,procps,less \
  bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log" >&2; exit 1; }

node_bin="$(readlink -f "$(command -v node)")"
npm_dir="$(npm root --global)/npm"
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# Smaller image: apt's lists and caches, docs and man pages are not needed at run time.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
if [ ${#extra_cas[@]} -gt 0 ]; then
  cp "${extra_cas[@]}" "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi
chroot "$root" /usr/local/bin/node --version >/dev/null

echo "base image: importing as $tag"
tar --numeric-owner -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change "LABEL drydock.node=$node_version drydock.recipe=$recipe" \
  --change 'CMD ["node"]' - "$tag" >/dev/null
echo "base image $tag built (node $node_version, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
