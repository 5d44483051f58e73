#!/usr/bin/env bash
# Record the files the system collector reads on this host into a tree for its tests:
#   scripts/record-host-tree.sh tests/data/hosts/NAME [PID...]
# gives NAME/proc and NAME/sys holding only those files (what fleetmon.agent.collectors.system reads
# below its proc and sys roots), so that SystemCollector(config, proc=NAME/proc, sys=NAME/sys) sees
# this host as it was. The processes recorded are the PIDs given (PID 1 and this shell by default).
# Command lines are cut to argv[0], the only part the collector reads, so no arguments are recorded.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 OUT_DIR [PID...]" >&2; exit 2; }
out=$1; shift
pids=("$@"); [ ${#pids[@]} -gt 0 ] || pids=(1 $$)
[ ! -e "$out" ] || { echo "$out exists: record into a new directory" >&2; exit 1; }

copy() {  # copy /PATH to OUT/PATH, reading it as the collector does (procfs and sysfs sizes say 0)
    mkdir -p "$out/$(dirname "$1")"
    cat "/$1" > "$out/$1"
}

try_copy() {  # the same for a file whose read may fail (an offline zone): a failed read leaves it out
    mkdir -p "$out/$(dirname "$1")"
    cat "/$1" > "$out/$1" 2>/dev/null || rm -f "$out/$1"
}

for file in stat loadavg uptime meminfo filesystems diskstats net/dev self/mountinfo; do
    copy "proc/$file"
done
# Read only on old kernels without MemAvailable, or where it says 0.
if ! awk '$1 == "MemAvailable:" && $2 > 0 {found = 1} END {exit !found}' /proc/meminfo; then
    copy proc/zoneinfo
fi
# Read only to name a root the kernel mounted as /dev/root.
if awk '{for (i = 7; i < NF; i++) if ($i == "-") {print $(i + 2); break}}' /proc/self/mountinfo \
        | grep -qx -e /dev/root -e rootfs; then
    copy proc/partitions
fi

for pid in "${pids[@]}"; do
    copy "proc/$pid/stat"
    comm=$(sed 's/^[0-9]* (\(.*\)) .*/\1/' "/proc/$pid/stat")
    if [ ${#comm} -ge 15 ]; then  # the kernel cut the name: the collector reads argv[0]
        tr '\0' '\n' < "/proc/$pid/cmdline" | head -n 1 | tr '\n' '\0' > "$out/proc/$pid/cmdline"
    fi
done

# Cores online now (the cpuN lines of /proc/stat) and their current frequency, where cpufreq runs.
for core in $(awk '/^cpu[0-9]/ {print substr($1, 4)}' /proc/stat); do
    freq=sys/devices/system/cpu/cpu$core/cpufreq/scaling_cur_freq
    [ ! -e "/$freq" ] || try_copy "$freq"
done

# /sys/block is only listed: its entries become links to where they point on this host.
mkdir -p "$out/sys/block"
for entry in /sys/block/*; do
    [ -e "$entry" ] || continue
    ln -s "$(readlink "$entry")" "$out/sys/block/$(basename "$entry")"
done

for zone in /sys/class/thermal/thermal_zone*; do
    [ -e "$zone" ] || continue
    try_copy "${zone#/}/type"
    try_copy "${zone#/}/temp"
done

for dir in /sys/class/hwmon/hwmon* /sys/class/hwmon/hwmon*/device; do
    sensors=$(find "$dir/" -maxdepth 1 -name 'temp*_input' 2>/dev/null || true)
    [ -n "$sensors" ] && [ -r "$dir/name" ] || continue
    copy "${dir#/}/name"
    for input in $sensors; do
        try_copy "${input#/}"
        label=${input%_input}_label
        [ ! -e "$label" ] || try_copy "${label#/}"
    done
done

echo "recorded $(find "$out" -type f | wc -l) files and $(find "$out" -type l | wc -l) links into $out"
