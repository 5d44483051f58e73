#!/usr/bin/env bash
# The fleetmon lab: real systemd hosts (Debian bookworm) booted with systemd-nspawn on one Linux machine.
#
#   lab/lab.sh up [--count N | --hosts "a b c"] [--inventory FILE]   boot the hosts (tears down an old lab first)
#   lab/lab.sh down                                                  remove everything `up` made, then verify
#   lab/lab.sh status                                                list hosts, addresses and whether they answer
#   lab/lab.sh image                                                 build the cached base image only
#   lab/lab.sh ssh HOST [CMD...]                                     ssh into a lab host
#   lab/lab.sh stop HOST | start HOST                                halt a host (as a power cut would) / boot it again
#   lab/lab.sh link HOST down|up                                     pull a host's network cable / plug it back in
#
# Each host: its own overlay over a cached base image, its own network namespace with eth0 on a private
# bridge, its own hostname, address, machine-id and SSH host keys. Hosts have no route outside the bridge;
# apt goes through an apt-cacher-ng on the controller's bridge address, which fetches from the Debian
# mirror of the controller's own apt sources. Python packages come from a wheelhouse (build-wheelhouse).
#
# Environment (all optional):
#   LAB_NAME   (fleetmon)        several labs may exist side by side under different names and networks
#   LAB_NET    (10.213.0)        the /24 of the bridge; the controller is .1, host i is .(10+i)
#   LAB_CACHE  (/var/cache/fleetmon-lab)   base images and the apt cache, kept across labs
#   LAB_STATE  (/var/lib/fleetmon-lab/$LAB_NAME)   everything of one running lab; removed by `down`
#   LAB_MIRROR                   Debian mirror URL (default: the one in this machine's apt sources)
#   LAB_APT_PORT (3142)          apt-cacher-ng port on the bridge address
set -euo pipefail

LAB_NAME=${LAB_NAME:-fleetmon}
LAB_NET=${LAB_NET:-10.213.0}
LAB_CACHE=${LAB_CACHE:-/var/cache/fleetmon-lab}
LAB_STATE=${LAB_STATE:-/var/lib/fleetmon-lab/$LAB_NAME}
LAB_APT_PORT=${LAB_APT_PORT:-3142}
LAB_SUITE=bookworm
# The base image is keyed by this list (and the suite and LAB_IMAGE_REV): change either and a new one is built.
LAB_PACKAGES=systemd,systemd-sysv,dbus,python3,python3-venv,python3-apt,openssh-server,iproute2,sudo,ca-certificates,procps,iputils-ping,less
LAB_IMAGE_REV=1

REPO=$(cd "$(dirname "$0")/.." && pwd)
ID=$(printf '%s' "$LAB_NAME" | sha256sum | cut -c1-4)
BRIDGE=fmb-$ID
BRIDGE_IP=$LAB_NET.1
NETNS_PREFIX=fmlab-$LAB_NAME-
SSH_KEY=$LAB_STATE/ssh/id_ed25519

log() { printf '\033[1mlab:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mlab: error:\033[0m %s\n' "$*" >&2; exit 1; }

require_root_and_tools() {
    [ "$(id -u)" = 0 ] || die "the lab needs root (network namespaces, overlay mounts, systemd-nspawn)"
    local missing=()
    for tool in debootstrap systemd-nspawn apt-cacher-ng ip ssh ssh-keygen mount; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    [ ${#missing[@]} = 0 ] || die "missing tools: ${missing[*]} (make lab-deps installs them)"
    grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "no overlay filesystem in this kernel"
}

# The Debian mirror this machine's apt already uses (deb822 .sources or one-line .list), for the suite $1.
controller_mirror() {
    local suite=$1
    [ -n "${LAB_MIRROR:-}" ] && [ "$suite" = "$LAB_SUITE" ] && { echo "$LAB_MIRROR"; return; }
    python3 - "$suite" <<'EOF'
import glob, sys
suite = sys.argv[1]
found = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(path).read().split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and suite in fields.get("suites", []):
            found += [u for u in fields.get("uris", []) if u.startswith("http://")]
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        words = [w for w in line.split() if not w.startswith("[")]
        if len(words) >= 3 and words[0] == "deb" and words[2] == suite and words[1].startswith("http://"):
            found.append(words[1])
print(found[0].rstrip("/") if found else "")
EOF
}

image_key() {
    printf '%s\n' "$LAB_SUITE" "$LAB_PACKAGES" "$LAB_IMAGE_REV" | sha256sum | cut -c1-12
}

# Build the base image once; later labs reuse it (an atomic rename makes a half-built one impossible).
build_image() {
    local key image mirror security tmp
    key=$(image_key)
    image=$LAB_CACHE/images/$LAB_SUITE-$key
    if [ -f "$image/.complete" ]; then echo "$image"; return; fi
    mirror=$(controller_mirror "$LAB_SUITE")
    [ -n "$mirror" ] || die "no http Debian mirror for $LAB_SUITE in /etc/apt/sources*; set LAB_MIRROR"
    security=$(controller_mirror "$LAB_SUITE-security")
    log "building the base image $LAB_SUITE-$key from $mirror (once; about a minute)"
    mkdir -p "$LAB_CACHE/images"
    tmp=$(mktemp -d "$LAB_CACHE/images/.build-XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    debootstrap --variant=minbase --include="$LAB_PACKAGES" "$LAB_SUITE" "$tmp/rootfs" "$mirror" \
        >"$tmp/debootstrap.log" 2>&1 || { tail -20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
    {
        echo "deb $mirror $LAB_SUITE main"
        echo "deb $mirror $LAB_SUITE-updates main"
        [ -z "$security" ] || echo "deb $security $LAB_SUITE-security main"
    } >"$tmp/rootfs/etc/apt/sources.list"
    # Nothing may start during installs into the image (and later `chroot apt-get install`s).
    printf '#!/bin/sh\nexit 101\n' >"$tmp/rootfs/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/rootfs/usr/sbin/policy-rc.d"
    # Per-host identity is written into each host's overlay at boot: no shared host keys or machine-id.
    rm -f "$tmp/rootfs"/etc/ssh/ssh_host_*
    : >"$tmp/rootfs/etc/machine-id"
    rm -f "$tmp/rootfs/var/lib/dbus/machine-id"
    # Booted hosts: the policy-rc.d only guards image builds.
    rm -f "$tmp/rootfs/usr/sbin/policy-rc.d"
    chroot "$tmp/rootfs" apt-get clean
    chroot "$tmp/rootfs" systemctl enable ssh.service >/dev/null 2>&1
    # A container console has no ttys to serve; keep the journal small.
    chroot "$tmp/rootfs" systemctl mask getty@tty1.service >/dev/null 2>&1 || true
    mkdir -p "$tmp/rootfs/etc/systemd/journald.conf.d"
    printf '[Journal]\nSystemMaxUse=32M\n' >"$tmp/rootfs/etc/systemd/journald.conf.d/lab.conf"
    touch "$tmp/.complete"
    mv "$tmp" "$image"
    trap - EXIT
    log "image ready: $image ($(du -sh "$image" | cut -f1))"
    echo "$image"
}

start_apt_proxy() {
    local mirror conf=$LAB_STATE/acng
    mkdir -p "$conf" "$LAB_STATE/acng-log" "$LAB_CACHE/apt-cacher-ng"
    # No Remap rules: acng is a caching proxy for exactly the mirror URLs the hosts' sources name (the
    # controller's own mirror), so it never tries the default mirror lists this network cannot reach.
    cat >"$conf/acng.conf" <<EOF
CacheDir: $LAB_CACHE/apt-cacher-ng
LogDir: $LAB_STATE/acng-log
SupportDir: /usr/lib/apt-cacher-ng
Port: $LAB_APT_PORT
BindAddress: $BRIDGE_IP
ExThreshold: 4
NetworkTimeout: 30
PidFile: $LAB_STATE/acng.pid
EOF
    setsid apt-cacher-ng -c "$conf" ForeGround=1 </dev/null >"$LAB_STATE/acng-log/stdout.log" 2>&1 &
    echo $! >"$LAB_STATE/acng.proc"
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/$BRIDGE_IP/$LAB_APT_PORT") 2>/dev/null; then return; fi
        sleep 0.2
    done
    tail -5 "$LAB_STATE/acng-log/stdout.log" >&2 || true
    die "apt-cacher-ng did not listen on $BRIDGE_IP:$LAB_APT_PORT (is a system apt-cacher-ng on *:$LAB_APT_PORT? set LAB_APT_PORT)"
}

setup_bridge() {
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
}

# Host $1 (name) with index $2: overlay, identity, network namespace, boot.
boot_host() {
    local name=$1 index=$2 image=$3
    local dir=$LAB_STATE/hosts/$name ip=$LAB_NET.$((10 + index)) ns=$NETNS_PREFIX$name veth=fmv-$ID-$index
    mkdir -p "$dir/upper" "$dir/work" "$dir/root"
    mount -t overlay overlay -o "lowerdir=$image/rootfs,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
    local root=$dir/root
    echo "$name" >"$root/etc/hostname"
    python3 -c 'import uuid; print(uuid.uuid4().hex)' >"$root/etc/machine-id"
    mkdir -p "$root/etc/ssh"
    ssh-keygen -q -A -f "$root" 2>/dev/null
    install -d -m 700 "$root/root/.ssh"
    install -m 600 "$SSH_KEY.pub" "$root/root/.ssh/authorized_keys"
    cp "$LAB_STATE/etc-hosts" "$root/etc/hosts"
    # apt's daily timers would run `apt-get update` at a random hour, holding apt's lock under a play's apt task.
    ln -sf /dev/null "$root/etc/systemd/system/apt-daily.timer"
    ln -sf /dev/null "$root/etc/systemd/system/apt-daily-upgrade.timer"
    # A download that stalls is given up after 30 s and tried again, rather than holding a play forever.
    printf 'Acquire::http::Proxy "http://%s:%s";\nAcquire::http::Timeout "30";\nAcquire::Retries "5";\n' \
        "$BRIDGE_IP" "$LAB_APT_PORT" >"$root/etc/apt/apt.conf.d/01lab-proxy"

    ip netns add "$ns"
    ip link add "$veth" type veth peer name "fmp-$ID-$index"
    ip link set "fmp-$ID-$index" netns "$ns"
    ip -n "$ns" link set "fmp-$ID-$index" name eth0
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip link set "$veth" master "$BRIDGE" up
    printf '%s\t%s\n' "$name" "$ip" >"$dir/address"
    launch_host "$name"
}

# Boot host $1 on its existing overlay and network namespace (at lab-up, and again after `stop`).
launch_host() {
    local name=$1 dir=$LAB_STATE/hosts/$1
    setsid systemd-nspawn -D "$dir/root" --boot --register=no --keep-unit --console=read-only \
        --resolv-conf=off --network-namespace-path="/run/netns/$NETNS_PREFIX$name" --machine="fm-$ID-$name" \
        </dev/null >>"$dir/console.log" 2>&1 &
    echo $! >"$dir/nspawn.pid"
}

# Cut host $1's power: its init is killed, and with it every process in the container at once, so nothing
# shuts down cleanly (the broker sees the agent's connection drop). Overlay and network stay for `start`.
cmd_stop() {
    local name=${1:?usage: lab.sh stop HOST} dir=$LAB_STATE/hosts/${1:-}
    [ -d "$dir" ] || die "no lab host $name"
    local pid init
    pid=$(cat "$dir/nspawn.pid" 2>/dev/null || true)
    init=$( [ -n "$pid" ] && pgrep -P "$pid" | head -1 || true)
    [ -n "$init" ] && kill -KILL "$init" 2>/dev/null || true
    stop_pid_file "$dir/nspawn.pid" 10
    rm -rf "/run/systemd/nspawn/propagate/fm-$ID-$name"
}

cmd_start() {
    local name=${1:?usage: lab.sh start HOST} dir=$LAB_STATE/hosts/${1:-}
    [ -d "$dir" ] || die "no lab host $name"
    if [ -f "$dir/nspawn.pid" ] && kill -0 "$(cat "$dir/nspawn.pid")" 2>/dev/null; then return 0; fi
    launch_host "$name"
    wait_host "$name" "$(cut -f2 "$dir/address")" || die "$name did not come back"
}

ssh_opts() {
    echo "-i $SSH_KEY -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=3 -o BatchMode=yes"
}

wait_host() {
    local name=$1 ip=$2
    # shellcheck disable=SC2046
    for _ in $(seq 90); do
        if ssh $(ssh_opts) "root@$ip" 'systemctl is-system-running --wait >/dev/null 2>&1; true' 2>/dev/null; then
            return 0
        fi
        kill -0 "$(cat "$LAB_STATE/hosts/$name/nspawn.pid")" 2>/dev/null || break
        sleep 1
    done
    tail -20 "$LAB_STATE/hosts/$name/console.log" >&2 || true
    return 1
}

write_inventory() {
    local file=$1
    mkdir -p "$(dirname "$file")"
    python3 - "$LAB_STATE" "$SSH_KEY" "$file" "$BRIDGE_IP" "$LAB_APT_PORT" <<'EOF'
import os, sys
state, key, out, bridge_ip, apt_port = sys.argv[1:6]
order = open(os.path.join(state, "order")).read().split()
hosts = {}
for name in order:
    host, ip = open(os.path.join(state, "hosts", name, "address")).read().split()
    hosts[host] = ip
names = list(hosts)
broker, agents = names[:1], names[1:]
# With four hosts or more the last one plays a Jetson (tegrastats replay).
jetsons = agents[-1:] if len(names) >= 4 else []
servers = [n for n in agents if n not in jetsons]
def block(members, indent):
    pad = " " * indent
    return "".join(f"{pad}{n}:\n" for n in members) if members else ""
lines = ["# Written by lab/lab.sh up: the lab's hosts (regenerated on every lab-up; do not edit).",
         "all:",
         "  vars:",
         "    ansible_user: root",
         f"    ansible_ssh_private_key_file: {key}",
         "    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
         "    ansible_python_interpreter: /usr/bin/python3",
         f"    fleetmon_lab_apt_proxy: http://{bridge_ip}:{apt_port}",
         "  hosts:"]
lines += [f"    {n}:\n      ansible_host: {ip}" for n, ip in hosts.items()]
lines += ["  children:",
          "    broker:", "      hosts:"] + [f"        {n}:" for n in broker]
lines += ["    hub:", "      hosts:"] + [f"        {n}:" for n in broker]
lines += ["    agents:", "      children:", "        servers:", "        jetsons:"]
lines += ["    servers:", "      hosts:" if servers else "      hosts: {}"] + [f"        {n}:" for n in servers]
lines += ["    jetsons:", "      vars:", "        fleetmon_agent_jetson_source: replay  # no Jetson here: a recorded tegrastats log",
          "      hosts:" if jetsons else "      hosts: {}"] + [f"        {n}:" for n in jetsons]
open(out, "w").write("\n".join(lines) + "\n")
EOF
    log "inventory written: $file"
}

cmd_up() {
    local count=3 hosts="" inventory=""
    while [ $# -gt 0 ]; do
        case $1 in
            --count) count=$2; shift 2 ;;
            --hosts) hosts=$2; shift 2 ;;
            --inventory) inventory=$2; shift 2 ;;
            *) die "unknown option $1" ;;
        esac
    done
    [ -n "$hosts" ] || hosts=$(seq -f 'lab%g' 1 "$count" | tr '\n' ' ')
    require_root_and_tools
    if [ -e "$LAB_STATE" ] || ip link show "$BRIDGE" >/dev/null 2>&1; then
        log "a lab named $LAB_NAME exists: taking it down first"
        cmd_down
    fi
    local image
    image=$(build_image)
    mkdir -p "$LAB_STATE/ssh" "$LAB_STATE/hosts"
    ssh-keygen -q -t ed25519 -N '' -C "fleetmon-lab-$LAB_NAME" -f "$SSH_KEY"
    local index=0 name
    {
        echo "127.0.0.1 localhost"
        echo "$BRIDGE_IP controller"
        for name in $hosts; do index=$((index + 1)); echo "$LAB_NET.$((10 + index)) $name"; done
    } >"$LAB_STATE/etc-hosts"
    echo "$hosts" >"$LAB_STATE/order"
    setup_bridge
    start_apt_proxy
    index=0
    for name in $hosts; do
        index=$((index + 1))
        boot_host "$name" "$index" "$image"
    done
    local pids=() failed=0
    index=0
    for name in $hosts; do
        index=$((index + 1))
        wait_host "$name" "$LAB_NET.$((10 + index))" & pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [ $failed = 0 ] || die "some hosts did not come up (console logs under $LAB_STATE/hosts/*/console.log)"
    [ -z "$inventory" ] || write_inventory "$inventory"
    log "up: $(echo $hosts | wc -w) hosts on $BRIDGE ($LAB_NET.0/24), apt proxy http://$BRIDGE_IP:$LAB_APT_PORT"
    cmd_status
}

stop_pid_file() {
    local file=$1 grace=${2:-20} pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq $((grace * 5))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid did not stop in ${grace}s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
        fi
    fi
    rm -f "$file"
}

cmd_down() {
    [ "$(id -u)" = 0 ] || die "the lab needs root"
    local dir name
    # Halt every host at once (SIGTERM to nspawn shuts the container down cleanly), then clean up.
    for dir in "$LAB_STATE"/hosts/*/; do
        [ -f "$dir/nspawn.pid" ] && { stop_pid_file "$dir/nspawn.pid" 30 & }
    done
    wait
    for dir in "$LAB_STATE"/hosts/*/; do
        [ -d "$dir" ] || continue
        name=$(basename "$dir")
        if mountpoint -q "$dir/root"; then umount "$dir/root" || umount -l "$dir/root"; fi
        rm -rf "/run/systemd/nspawn/propagate/fm-$ID-$name"
        ip netns del "$NETNS_PREFIX$name" 2>/dev/null || true
    done
    stop_pid_file "$LAB_STATE/acng.proc" 10
    local link
    for link in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^(fmv|fmp)-$ID-" || true); do
        ip link del "$link" 2>/dev/null || true
    done
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -rf "$LAB_STATE"
    verify_clean
}

# Fail loudly if anything of this lab is left: mounts, namespaces, links, processes, files.
verify_clean() {
    local left=()
    grep -q " $LAB_STATE/" /proc/mounts && left+=("mounts: $(grep " $LAB_STATE/" /proc/mounts | cut -d' ' -f2 | tr '\n' ' ')")
    ip netns list 2>/dev/null | grep -q "^$NETNS_PREFIX" && left+=("netns: $(ip netns list | grep "^$NETNS_PREFIX" | tr '\n' ' ')")
    ip -o link show | grep -qE ": (fmb|fmv|fmp)-$ID" && left+=("links: $(ip -o link show | grep -oE "(fmb|fmv|fmp)-$ID[^:@]*" | tr '\n' ' ')")
    pgrep -f "systemd-nspawn .*--machine=fm-$ID-" >/dev/null && left+=("processes: $(pgrep -f "systemd-nspawn .*--machine=fm-$ID-" | tr '\n' ' ')")
    pgrep -f "apt-cacher-ng -c $LAB_STATE/acng" >/dev/null && left+=("apt-cacher-ng: $(pgrep -f "apt-cacher-ng -c $LAB_STATE/acng")")
    [ -e "$LAB_STATE" ] && left+=("state dir: $LAB_STATE")
    if [ ${#left[@]} -gt 0 ]; then
        printf 'lab: leftover %s\n' "${left[@]}" >&2
        die "lab $LAB_NAME was not removed completely"
    fi
    log "down: lab $LAB_NAME removed; no mounts, namespaces, links or processes left"
}

cmd_status() {
    [ -f "$LAB_STATE/order" ] || { log "no lab named $LAB_NAME"; return 0; }
    local name ip pid state
    for name in $(cat "$LAB_STATE/order"); do
        read -r _ ip <"$LAB_STATE/hosts/$name/address"
        pid=$(cat "$LAB_STATE/hosts/$name/nspawn.pid" 2>/dev/null || echo -)
        # shellcheck disable=SC2046
        state=$(ssh $(ssh_opts) "root@$ip" systemctl is-system-running 2>/dev/null || echo unreachable)
        printf '  %-12s %-14s nspawn pid %-8s %s\n' "$name" "$ip" "$pid" "$state" >&2
    done
    log "ssh: lab/lab.sh ssh HOST   (key $SSH_KEY)"
}

cmd_ssh() {
    local name=$1; shift
    local ip
    read -r _ ip <"$LAB_STATE/hosts/$name/address" || die "no host $name in lab $LAB_NAME"
    # shellcheck disable=SC2046
    exec ssh $(ssh_opts) -t "root@$ip" "$@"
}

# Pull host $1's network cable (down) or plug it back (up): the bridge end of its veth. The host runs on and
# still reaches itself (loopback, its own address); nothing else reaches it, as when a WAN link drops.
cmd_link() {
    local name=${1:-} state=${2:-} ip
    [ "$state" = up ] || [ "$state" = down ] || die "usage: lab/lab.sh link HOST down|up"
    read -r _ ip <"$LAB_STATE/hosts/$name/address" || die "no host $name in lab $LAB_NAME"
    ip link set "fmv-$ID-$(( ${ip##*.} - 10 ))" "$state"
}

# Key-value lines for scripts (molecule's create playbook): name, address, key.
cmd_hosts() {
    local name ip
    for name in $(cat "$LAB_STATE/order"); do
        read -r _ ip <"$LAB_STATE/hosts/$name/address"
        printf '%s %s %s\n' "$name" "$ip" "$SSH_KEY"
    done
}

case ${1:-} in
    up) shift; cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    image) require_root_and_tools; build_image ;;
    ssh) shift; cmd_ssh "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    start) shift; cmd_start "$@" ;;
    link) shift; cmd_link "$@" ;;
    hosts) cmd_hosts ;;
    *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
