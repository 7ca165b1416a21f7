#!/usr/bin/env bash
# A three-node Docker Swarm on one machine, for the cluster tests: three Docker engines, each in its own network
# namespace with its own data root, exec root, containerd and socket, wired to one private subnet, joined as one
# swarm (n1 the manager, n2 and n3 workers; n3 labelled gpu=true), with an image registry on the manager that
# every engine pulls from. The machine's own Docker engine, if one runs, is not touched.
#
#   bash infra/swarm/engines.sh up              namespaces, links, engines, swarm, registry; prints the status
#   bash infra/swarm/engines.sh smoke           proves it works: registry push and pull, overlay DNS across the
#                                               workers, a label constraint, and HAProxy (haproxy.cfg) in front
#                                               of stand-in servers and relays; removes what it created
#   bash infra/swarm/engines.sh status          the nodes (role, labels, address) and services
#   bash infra/swarm/engines.sh push IMAGE…     copies images from the machine's engine to n1 and pushes them
#                                               to the registry as $REGISTRY/IMAGE
#   bash infra/swarm/engines.sh env [n1|n2|n3]  `export DOCKER_HOST=…` for one engine (default n1, the manager)
#   bash infra/swarm/engines.sh kill NODE       a node's power lost: its engine and containers killed at once
#   bash infra/swarm/engines.sh start NODE      its engine started again on its data root; it rejoins the swarm
#   bash infra/swarm/engines.sh down [--purge]  removes everything the test bed made and checks that it did;
#                                               keeps the image cache and the engines' logs unless --purge
#   bash infra/swarm/engines.sh check-clean     exits 1 naming whatever of the test bed remains
#
# Root only (namespaces, mounts, dockerd). Needs Debian's docker.io, iproute2 and curl (installed here when missing)
# and Node (the images' build, the smoke's probe).
# The addresses: 10.77.0.1 is this machine's end (link dd-swarm0), n1..n3 are 10.77.0.11..13; the registry is
# 10.77.0.11:5000, HAProxy (smoke) publishes 10.77.0.11:8484 (API) and :8485 (relay). Each engine's socket is
# /run/dd-swarm/<node>.sock: `docker -H unix:///run/dd-swarm/n1.sock node ls`.
#
# Why it is built this way:
# - The bridge joining the nodes lives in a namespace of its own (dd-swarm-hub): a bridge in the root namespace
#   would pass its frames through the root namespace's iptables FORWARD chain (br_netfilter), which the
#   machine's own dockerd sets to DROP.
# - `ip netns exec` gives each engine a mount namespace of its own with a /sys of its network namespace but no
#   cgroup hierarchies under it; they are mounted again there. Everything the engine mounts (overlay layers,
#   its containers' network namespaces) stays in that mount namespace and goes when its processes exit.
# - A tmpfs over /run/containerd there hides a system containerd, so each dockerd starts its own under its exec
#   root (dockerd uses /run/containerd/containerd.sock whenever it exists).
# - This kernel has no IPVS (CONFIG_IP_VS is not set): Swarm's virtual IPs and its ingress routing mesh need it.
#   Services here use `--endpoint-mode dnsrr` (the service name resolves to its tasks' addresses) and publish
#   ports in host mode on the node that runs them; HAProxy balances over `tasks.<service>` itself.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
prefix="${DRYDOCK_IMAGE_PREFIX:-drydock}"
subnet="${DD_SWARM_SUBNET:-10.77.0}"       # the nodes' /24 (first three octets)
pool="${DD_SWARM_ADDR_POOL:-10.78.0.0/16}"  # Swarm's overlay networks, /24 each
nodes=(n1 n2 n3)
state=/var/lib/dd-swarm                     # data roots, the image cache, the engines' logs
run=/run/dd-swarm                           # sockets, pid files, exec roots
manager_ip="$subnet.11"
registry="$manager_ip:5000"
node_ip() { echo "$subnet.1${1#n}"; }        # n1 → 10.77.0.11
# Debian's client, the same version as the engines (a newer docker elsewhere on PATH also works).
docker_cli="$(command -v /usr/bin/docker || command -v docker || true)"
dk() { "$docker_cli" -H "unix://$run/$1.sock" "${@:2}"; } # <node> <docker args…>

say() { printf '%s\n' "$*" >&2; }
die() { say "dd-swarm: $*"; exit 1; }
now() { date +%s%N; }
elapsed() { local ms=$((($(now) - $1) / 1000000)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); } # <since>

need_root() { [ "$(id -u)" = 0 ] || die "run as root (namespaces, mounts, dockerd)"; }

install_tools() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v curl >/dev/null || missing+=(curl)
  command -v iptables >/dev/null || missing+=(iptables)
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  docker_cli="$(command -v /usr/bin/docker || command -v docker)"
}

# The network: a bridge in dd-swarm-hub, one veth to each node (eth0 there) and one to this machine (dd-swarm0).

network_up() {
  ip netns add dd-swarm-hub
  ip -n dd-swarm-hub link set lo up
  ip -n dd-swarm-hub link add br0 type bridge
  ip -n dd-swarm-hub link set br0 up
  # Frames crossing the hub's bridge need no firewall; this keeps conntrack out of the way too.
  ip netns exec dd-swarm-hub sh -c 'echo 0 >/proc/sys/net/bridge/bridge-nf-call-iptables' 2>/dev/null || true
  ip link add dd-swarm0 type veth peer name host netns dd-swarm-hub
  ip addr add "$subnet.1/24" dev dd-swarm0
  ip link set dd-swarm0 up
  ip -n dd-swarm-hub link set host master br0 up
  local n
  for n in "${nodes[@]}"; do
    ip netns add "dd-swarm-$n"
    ip -n dd-swarm-hub link add "$n" type veth peer name eth0 netns "dd-swarm-$n"
    ip -n dd-swarm-hub link set "$n" master br0 up
    ip -n "dd-swarm-$n" addr add "$(node_ip "$n")/24" dev eth0
    ip -n "dd-swarm-$n" link set eth0 up
    ip -n "dd-swarm-$n" link set lo up
  done
}

# The engines.

# Runs inside `ip netns exec dd-swarm-<node> unshare --uts`: the node's host name, the cgroup hierarchies `ip netns
# exec` left out of its fresh /sys, a private /run/containerd, then dockerd in place of this shell.
engine_entry='set -e
hostname "$DD_NODE"
if [ -n "$DD_CGROUP_TMPFS" ]; then mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup; fi
while read -r _ dir type opts _; do
  [ -n "$dir" ] || continue
  mkdir -p "$dir"
  mount -t "$type" -o "$opts" "$type" "$dir"
done <<EOF
$DD_CGROUP_MOUNTS
EOF
mount -t tmpfs -o mode=700 containerd /run/containerd
exec "$@"'

engine_start() { # <node>
  local n="$1"
  mkdir -p "$state/$n" "$state/logs" "$run/$n"
  # Not /etc/docker/daemon.json, the machine's engine's; and an engine identity (key.json) of its own, not
  # /etc/docker/key.json, which would give all three the same engine ID.
  printf '{"deprecated-key-path": "%s"}\n' "$state/$n/key.json" >"$run/$n.json"
  local args=(
    --data-root "$state/$n" --exec-root "$run/$n" --pidfile "$run/$n.pid" -H "unix://$run/$n.sock"
    --config-file "$run/$n.json"
    --insecure-registry "$registry" --cgroup-parent "/dd-swarm-$n"
    --iptables=true --ip-masq=true --log-level=info
  )
  local cgroup_tmpfs=
  [ "$(findmnt -n -o FSTYPE /sys/fs/cgroup)" = tmpfs ] && cgroup_tmpfs=1
  DD_NODE="$n" DD_CGROUP_TMPFS="$cgroup_tmpfs" DD_CGROUP_MOUNTS="$(awk '$3 == "cgroup" || $3 == "cgroup2"' /proc/self/mounts)" \
    setsid ip netns exec "dd-swarm-$n" unshare --uts -- bash -c "$engine_entry" engine dockerd "${args[@]}" \
    >>"$state/logs/$n.log" 2>&1 </dev/null &
  echo $! >"$run/$n.started"
}

engine_wait() { # <node>
  local i
  for i in $(seq 1 120); do
    dk "$1" version >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$run/$1.started")" 2>/dev/null || break
    sleep 0.25
  done
  tail -20 "$state/logs/$1.log" >&2
  die "the engine of $1 did not answer on $run/$1.sock (log: $state/logs/$1.log)"
}

# The bed's own images (the base, the registry, HAProxy) on n1: from the cache of an earlier `up`, else the base
# from the machine's engine when it has the same one, built offline for what is missing; saved to the cache when
# anything changed, so the next `up` loads in seconds what took a debootstrap.
images_up() {
  local base="$prefix/base:bookworm-node$(node --version | sed 's/^v\([0-9]*\).*/\1/')"
  local bed=("$base" "$prefix/registry:latest" "$prefix/haproxy:latest") cache="$state/cache/images.tar"
  if [ -s "$cache" ]; then
    dk n1 load -q -i "$cache" >/dev/null
  elif "$docker_cli" -H unix:///var/run/docker.sock image inspect "$base" >/dev/null 2>&1; then
    "$docker_cli" -H unix:///var/run/docker.sock save "$base" | dk n1 load -q >/dev/null
  fi
  local before after
  before="$(dk n1 image inspect -f '{{.Id}}' "${bed[@]}" 2>/dev/null || true)"
  DOCKER_HOST="unix://$run/n1.sock" bash "$repo/infra/images/build.sh" registry haproxy >&2
  after="$(dk n1 image inspect -f '{{.Id}}' "${bed[@]}")"
  if [ "$before" != "$after" ] || [ ! -s "$cache" ]; then
    mkdir -p "$state/cache"
    dk n1 save -o "$cache.tmp" "${bed[@]}" && mv "$cache.tmp" "$cache"
  fi
}

swarm_up() {
  # Nodes report every 2 s (5 s by default), so a lost node is down within about 5 s: new tasks go elsewhere.
  dk n1 swarm init --advertise-addr "$manager_ip" --listen-addr "$manager_ip:2377" --dispatcher-heartbeat 2s \
    --default-addr-pool "$pool" --default-addr-pool-mask-length 24 >/dev/null
  local token n
  token="$(dk n1 swarm join-token -q worker)"
  for n in n2 n3; do
    dk "$n" swarm join --token "$token" --advertise-addr "$(node_ip "$n")" --listen-addr "$(node_ip "$n"):2377" \
      "$manager_ip:2377" >/dev/null
  done
  dk n1 node update --label-add gpu=true "$(dk n3 info -f '{{.Swarm.NodeID}}')" >/dev/null
}

registry_up() {
  # Host mode on the manager (no routing mesh without IPVS); the image only n1 has, so no digest to resolve.
  dk n1 service create --quiet --detach --name registry --no-resolve-image --endpoint-mode dnsrr \
    --constraint node.role==manager --publish mode=host,published=5000,target=5000 \
    --mount type=volume,source=dd-swarm-registry,target=/var/lib/docker-registry \
    "$prefix/registry:latest" >/dev/null
  local i
  for i in $(seq 1 120); do
    curl -fsS -o /dev/null "http://$registry/v2/" 2>/dev/null && return 0
    sleep 0.25
  done
  dk n1 service ps --no-trunc registry >&2
  die "the registry did not answer on http://$registry/v2/ within 30 s"
}

cmd_up() {
  need_root
  install_tools
  [ ! -e "$run" ] && ! ip netns list | grep -q '^dd-swarm-' || die "the test bed is up already (or half: engines.sh down)"
  local t0 t
  t0="$(now)"
  trap '[ $? = 0 ] || say "dd-swarm: up failed; engines.sh down removes what it made"' EXIT
  mkdir -p "$run"
  # The engines mount a tmpfs on /run/containerd, so it must exist; made here, it goes at down.
  [ -d /run/containerd ] || { mkdir -m 0711 /run/containerd && touch "$run/made-run-containerd"; }
  network_up
  mkdir -p "$state"
  stat -L -c %i /run/netns/dd-swarm-* >"$state/netns-ids" # for check-clean, which looks for processes still in them
  local n
  for n in "${nodes[@]}"; do engine_start "$n"; done
  for n in "${nodes[@]}"; do engine_wait "$n"; done
  say "engines up ($(elapsed "$t0"))"
  t="$(now)"
  swarm_up
  say "swarm formed: n1 manager, n2 and n3 workers, n3 gpu=true ($(elapsed "$t"))"
  t="$(now)"
  images_up
  say "images on n1 ($(elapsed "$t"))"
  t="$(now)"
  registry_up
  say "registry answering on $registry ($(elapsed "$t"))"
  say "up in $(elapsed "$t0")"
  cmd_status
}

# Status.

cmd_status() {
  [ -S "$run/n1.sock" ] || { say "the test bed is down"; return 0; }
  printf '%-5s %-8s %-7s %-12s %-14s %s\n' NODE ROLE STATE ADDRESS LABELS ENGINE
  local id
  for id in $(dk n1 node ls -q); do
    dk n1 node inspect -f '{{.Description.Hostname}} {{.Spec.Role}} {{.Status.State}} {{.Status.Addr}} {{range $k, $v := .Spec.Labels}}{{$k}}={{$v}},{{end}}' "$id" |
      while read -r host role st addr labels; do
        printf '%-5s %-8s %-7s %-12s %-14s %s\n' "$host" "$role" "$st" "$addr" "${labels%,}" "unix://$run/$host.sock"
      done
  done | sort
  local services
  services="$(dk n1 service ls --format '{{.Name}} {{.Replicas}} {{.Image}}')"
  [ -z "$services" ] || { echo; echo "services:"; echo "$services" | sed 's/^/  /'; }
}

cmd_env() {
  local n="${1:-n1}"
  echo "export DOCKER_HOST=unix://$run/$n.sock DD_SWARM_REGISTRY=$registry"
}

# Images from the machine's engine into the registry.

cmd_push() {
  [ $# -gt 0 ] || die "push: which images?"
  [ -S "$run/n1.sock" ] || die "the test bed is down"
  local image
  for image in "$@"; do
    "$docker_cli" -H unix:///var/run/docker.sock save "$image" | dk n1 load -q >/dev/null
    dk n1 tag "$image" "$registry/$image"
    dk n1 push -q "$registry/$image" >/dev/null
    echo "$registry/$image"
  done
}

# The smoke test.

smoke_cleanup() {
  dk n1 service rm smoke smoke-gpu server relay haproxy >/dev/null 2>&1 || true
  dk n1 config rm dd-stand-in dd-haproxy-cfg >/dev/null 2>&1 || true
  local i n
  for i in $(seq 1 60); do
    [ -z "$(for n in "${nodes[@]}"; do dk "$n" ps -q --filter label=dd-swarm.smoke; done)" ] && break
    sleep 0.5
  done
  dk n1 network rm dd-smoke >/dev/null 2>&1 || true
}

service_wait() { # <service> <tasks>: until that many of its tasks run (60 s at most)
  local i
  for i in $(seq 1 240); do
    [ "$(dk n1 service ps "$1" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" -ge "$2" ] && return 0
    sleep 0.25
  done
  dk n1 service ps --no-trunc "$1" >&2
  die "service $1: not $2 tasks running within 60 s"
}

# <name> <image> [service create args…]: a stand-in (stand-in.cjs) on the smoke network, from the registry.
smoke_service() {
  dk n1 service create --quiet --detach --name "$1" --network dd-smoke --endpoint-mode dnsrr --container-label dd-swarm.smoke=1 \
    --hostname '{{.Node.Hostname}}-{{.Service.Name}}-{{.Task.Slot}}' --config source=dd-stand-in,target=/stand-in.cjs \
    "${@:3}" "$2" node /stand-in.cjs >/dev/null
}

cmd_smoke() {
  need_root
  [ -S "$run/n1.sock" ] || die "the test bed is down (engines.sh up)"
  local base="$prefix/base:bookworm-node$(node --version | sed 's/^v\([0-9]*\).*/\1/')" t t0
  t0="$(now)"
  smoke_cleanup
  # DD_SWARM_SMOKE_KEEP=1 leaves the smoke's services running, to look at them (the next smoke or down removes them).
  [ "${DD_SWARM_SMOKE_KEEP:-}" = 1 ] || trap smoke_cleanup EXIT

  t="$(now)"
  local image
  for image in "$base" "$prefix/haproxy:latest"; do
    dk n1 tag "$image" "$registry/$image"
    dk n1 push -q "$registry/$image" >/dev/null
  done
  say "ok  pushed $base and $prefix/haproxy from n1 to $registry ($(elapsed "$t"))"

  dk n1 network create --driver overlay dd-smoke >/dev/null
  dk n1 config create dd-stand-in "$here/stand-in.cjs" >/dev/null
  dk n1 config create dd-haproxy-cfg "$here/haproxy.cfg" >/dev/null

  # Two replicas over the two workers, pulled from the registry; each reaches the other by the service's name.
  t="$(now)"
  smoke_service smoke "$registry/$base" --replicas 2 --replicas-max-per-node 1 --constraint node.role==worker
  service_wait smoke 2
  local placement
  placement="$(dk n1 service ps smoke --filter desired-state=running --format '{{.Node}}' | sort | tr '\n' ' ')"
  [ "$placement" = "n2 n3 " ] || die "smoke: replicas on '$placement', not on n2 and n3"
  say "ok  service smoke: one replica on n2, one on n3, each pulled from the registry ($(elapsed "$t"))"
  local cid answer
  cid="$(dk n2 ps -q --filter label=com.docker.swarm.service.name=smoke | head -1)"
  # Exits 2 unless the two addresses tasks.smoke names answer from n2 and from n3 (host names are <node>-…).
  answer="$(dk n2 exec "$cid" node -e '
    const dns = require("node:dns").promises;
    (async () => {
      const ips = await dns.resolve4("tasks.smoke");
      const byName = await dns.resolve4("smoke");
      const names = await Promise.all(ips.map(async (ip) => (await (await fetch(`http://${ip}:8080/`)).json()).host));
      const viaName = (await (await fetch("http://smoke:8080/")).json()).host;
      console.log(JSON.stringify({ ips, byName, names: names.sort(), viaName }));
      if (names.map((name) => name.split("-")[0]).join() !== "n2,n3") process.exit(2);
    })().catch((e) => { console.error(e); process.exit(1); });')" ||
    die "smoke: the replica on n2 did not reach both replicas over the overlay network: $answer"
  say "    from n2's replica: $answer"
  say "ok  overlay network: n2's replica resolved tasks.smoke and smoke, and reached the replica on n3"

  t="$(now)"
  smoke_service smoke-gpu "$registry/$base" --replicas 1 --constraint node.labels.gpu==true
  service_wait smoke-gpu 1
  placement="$(dk n1 service ps smoke-gpu --filter desired-state=running --format '{{.Node}}')"
  [ "$placement" = n3 ] || die "smoke: the gpu=true task ran on '$placement'"
  say "ok  node.labels.gpu==true placed its task on n3 ($(elapsed "$t"))"

  # HAProxy in front of two stand-in servers and two stand-in relays, as the stack will have it.
  t="$(now)"
  smoke_service server "$registry/$base" --replicas 2 --env ROLE=server --env PORT=8484
  smoke_service relay "$registry/$base" --replicas 2 --env ROLE=relay --env PORT=8485
  dk n1 service create --quiet --detach --name haproxy --network dd-smoke --container-label dd-swarm.smoke=1 \
    --constraint node.role==manager --endpoint-mode dnsrr \
    --publish mode=host,published=8484,target=8484 --publish mode=host,published=8485,target=8485 \
    --config source=dd-haproxy-cfg,target=/etc/haproxy/haproxy.cfg "$registry/$prefix/haproxy:latest" >/dev/null
  service_wait server 2
  service_wait relay 2
  service_wait haproxy 1
  say "ok  haproxy, 2 servers and 2 relays running ($(elapsed "$t"))"
  node "$here/lb-probe.cjs" "$manager_ip" || die "smoke: the load balancer's checks failed (above)"

  # A relay lost: its sessions move to the other; the replacement takes new sessions, not the moved ones.
  node "$here/lb-probe.cjs" "$manager_ip" --failover || die "smoke: relay failover (above)"

  say "smoke passed in $(elapsed "$t0")"
}

# Down, and proof that nothing is left.

engine_pids() { # <node>: every process of that engine: in its network namespace, or in its containers' cgroups
  { ip netns pids "dd-swarm-$1" 2>/dev/null || true
    cat /sys/fs/cgroup/pids/"dd-swarm-$1"/*/cgroup.procs /sys/fs/cgroup/"dd-swarm-$1"/*/cgroup.procs 2>/dev/null || true
  } | sort -un
}

engine_pid() { # <node>: its dockerd's pid, if that process is still this engine's dockerd
  local pid
  pid="$(cat "$run/$1.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -- "-H unix://$run/$1.sock" && echo "$pid" || true
}

# <node>: as if its machine lost power: every process of the engine, its containers' included, killed at once.
# The swarm sees a node go down; `start` brings the engine back on the same data root, and it rejoins.
cmd_kill() {
  need_root
  local n="${1:-}" pids i
  [[ " ${nodes[*]} " == *" $n "* ]] || die "kill: which node (n1, n2, n3)?"
  pids="$(engine_pids "$n")"
  [ -n "$pids" ] || die "kill: nothing of $n runs"
  kill -KILL $pids 2>/dev/null || true
  for i in $(seq 1 40); do
    [ -z "$(engine_pids "$n")" ] && { say "killed the engine of $n and its containers"; return 0; }
    sleep 0.25
  done
  die "kill: processes of $n would not exit: $(echo $(engine_pids "$n"))"
}

cmd_start() {
  need_root
  local n="${1:-}"
  [[ " ${nodes[*]} " == *" $n "* ]] || die "start: which node (n1, n2, n3)?"
  [ -z "$(engine_pid "$n")" ] || die "start: the engine of $n runs already"
  local t
  t="$(now)"
  engine_start "$n"
  engine_wait "$n"
  say "engine of $n up again ($(elapsed "$t")); it rejoins the swarm by itself"
}

engines_stop() {
  local n pid
  # Services first, so every task's container stops through its engine; then leave the swarm.
  if dk n1 info >/dev/null 2>&1; then
    dk n1 service rm $(dk n1 service ls -q) >/dev/null 2>&1 || true
  fi
  for n in n3 n2 n1; do dk "$n" swarm leave --force >/dev/null 2>&1 || true; done
  local ids
  for n in "${nodes[@]}"; do
    ids="$(dk "$n" ps -aq 2>/dev/null || true)"
    [ -z "$ids" ] || dk "$n" rm -f $ids >/dev/null 2>&1 || true
  done
  for n in "${nodes[@]}"; do
    pid="$(engine_pid "$n")"
    [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
  done
  # dockerd stops its containerd and the shims; whatever is left after 20 s is killed.
  engines_gone 20 && return 0
  say "killing what did not stop: $(echo $(all_engine_pids))"
  kill -KILL $(all_engine_pids) 2>/dev/null || true
  engines_gone 10 || die "processes of the test bed would not exit: $(echo $(all_engine_pids))"
}

all_engine_pids() { local n; for n in "${nodes[@]}"; do engine_pids "$n"; done; }

engines_gone() { # <seconds>: whether every process of the engines exited within that time
  local i
  for i in $(seq 1 $(($1 * 4))); do
    [ -z "$(all_engine_pids)" ] && return 0
    sleep 0.25
  done
  return 1
}

cmd_down() {
  need_root
  local purge=
  [ "${1:-}" = --purge ] && purge=1
  local t0
  t0="$(now)"
  engines_stop
  # Nothing of the engines is mounted in this namespace; anything that is (an older run's) goes, deepest first.
  findmnt -rn -o TARGET | grep -E "^($run|$state)(/|$)" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  find /sys/fs/cgroup -maxdepth 2 -type d -name 'dd-swarm-*' 2>/dev/null | while read -r dir; do
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  local ns
  for ns in $(ip netns list | awk '$1 ~ /^dd-swarm-/ {print $1}'); do ip netns del "$ns"; done
  ! ip link show dd-swarm0 >/dev/null 2>&1 || ip link del dd-swarm0
  [ ! -e "$run/made-run-containerd" ] || rmdir /run/containerd 2>/dev/null || true
  rm -rf "$run"
  rm -rf "$state"/n1 "$state"/n2 "$state"/n3
  say "down in $(elapsed "$t0")$([ -n "$purge" ] && echo ', purged' || echo "; kept $state (image cache, logs): down --purge removes it")"
  cmd_check_clean
  [ -z "$purge" ] || rm -rf "$state"
}

# What remains of the test bed, one line each: its namespaces and links; any process with one of its sockets or
# exec roots on its command line, inside one of its network namespaces (by inode: a namespace lives on, unnamed,
# while a process holds it), or whose mount namespace still holds one of its mounts; mounts here; its cgroups;
# its run directory and data roots.
leftovers() {
  ip netns list | awk '$1 ~ /^dd-swarm-/ {print "network namespace " $1}'
  ip -o link show | awk -F': ' '$2 ~ /^dd-swarm/ {print "link " $2}'
  local ids p cmd
  ids=" $(cat "$state/netns-ids" 2>/dev/null | tr '\n' ' ') "
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" != $$ ] && [ "${p#/proc/}" != "$BASHPID" ] || continue
    cmd="$(tr '\0' ' ' 2>/dev/null <"$p/cmdline" || true)"
    [ -n "$cmd" ] || continue
    if [[ "$cmd" == *"$run/"* ]] || [[ "$ids" == *" $(stat -L -c %i "$p/ns/net" 2>/dev/null || echo none) "* ]] ||
      grep -qE " ($run|$state)/" "$p/mountinfo" 2>/dev/null; then
      echo "process ${p#/proc/} ${cmd:0:120}"
    fi
  done
  findmnt -rn -o TARGET | grep dd-swarm | sed 's/^/mount /' || true
  find /sys/fs/cgroup -maxdepth 2 -type d -name 'dd-swarm-*' 2>/dev/null | sed 's/^/cgroup /'
  [ ! -e "$run" ] || echo "directory $run"
  local n
  for n in "${nodes[@]}"; do [ ! -e "$state/$n" ] || echo "data root $state/$n"; done
}

cmd_check_clean() {
  local left
  left="$(leftovers)"
  if [ -n "$left" ]; then
    say "dd-swarm: left behind:"
    sed 's/^/  /' <<<"$left" >&2
    return 1
  fi
  say "clean: no dd-swarm namespace, link, process, mount, cgroup, socket or data root remains"
}

case "${1:-}" in
  up) cmd_up ;;
  smoke) cmd_smoke ;;
  status) cmd_status ;;
  push) shift; cmd_push "$@" ;;
  env) cmd_env "${2:-}" ;;
  kill) cmd_kill "${2:-}" ;;
  start) cmd_start "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  check-clean) cmd_check_clean ;;
  *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
