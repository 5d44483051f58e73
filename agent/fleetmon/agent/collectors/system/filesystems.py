"""Size and use of the filesystems a person would call the host's disks.

Filesystems are the mounts the kernel backs with a block device (the types /proc/filesystems does not
mark ``nodev``), plus ZFS and network filesystems, plus an overlay mounted at ``/`` (the root of a
container). Read-only images (squashfs snaps, erofs, iso9660) are always full and are left out. Bind
mounts show the same device twice; only the shortest mount point of a device is reported.

The mounts come from /proc/self/mountinfo: the list psutil.disk_partitions reads from
/proc/self/mounts, with each mount's device number besides. A root mounted by the kernel itself,
without an initramfs (a Jetson Nano's SD card, many boards), is named ``/dev/root`` there, a name no
device has; the number finds its real name in /proc/partitions, as psutil does with the number of
``/``. Sizes come from statvfs(2) of each mount point, the one live call here.
"""

import os
import re
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Pattern, Set, Tuple

from fleetmon.protocol.metricset import MetricSet

NETWORK_FSTYPES = frozenset(("nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "fuse.glusterfs", "fuse.sshfs"))
IMAGE_FSTYPES = frozenset(("squashfs", "erofs", "iso9660", "udf"))
# The kernel's names for a device it mounted before any device node existed.
PLACEHOLDER_DEVICES = frozenset(("/dev/root", "rootfs"))
# The kernel writes space, tab, newline and backslash in mount fields as octal escapes; these are the
# ones getmntent(3) decodes, so names read the same as through psutil.
_ESCAPES = re.compile(r"\\(040|011|012|134|\\)")
_UNESCAPED = {"040": " ", "011": "\t", "012": "\n", "134": "\\", "\\": "\\"}

Statvfs = Callable[[str], os.statvfs_result]


class Mount(NamedTuple):
    device: str
    mountpoint: str
    fstype: str


class MountEntry(NamedTuple):
    device: str  # '' where the kernel says 'none'
    mountpoint: str
    fstype: str
    number: str  # "major:minor"


def _unescape(field: str) -> str:
    return _ESCAPES.sub(lambda match: _UNESCAPED[match.group(1)], field)


def parse_mountinfo(text: str) -> List[MountEntry]:
    """The mounts of a /proc/PID/mountinfo, in its order (see proc(5))."""
    entries = []
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields[6:]:
            continue
        separator = fields.index("-", 6)  # the optional fields (shared:N, master:N) end at '-'
        device = _unescape(fields[separator + 2])
        entries.append(MountEntry("" if device == "none" else device, _unescape(fields[4]),
                                  fields[separator + 1], fields[2]))
    return entries


def partition_names(text: str) -> Dict[str, str]:
    """Device names by "major:minor" from /proc/partitions."""
    names: Dict[str, str] = {}
    for line in text.splitlines()[2:]:
        fields = line.split()
        if len(fields) >= 4:
            names.setdefault(f"{fields[0]}:{fields[1]}", fields[3])
    return names


def block_fstypes(text: str) -> Set[str]:
    """Filesystem types from /proc/filesystems that need a block device."""
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("nodev")}


def select_mounts(partitions: Iterable[Tuple[str, str, str]], block_types: Set[str],
                  exclude: Optional[Pattern[str]]) -> List[Mount]:
    """The mounts worth a filesystem series, one per device, sorted by mount point."""
    by_device: Dict[str, Mount] = {}
    for device, mountpoint, fstype in partitions:
        if exclude is not None and exclude.fullmatch(mountpoint):
            continue
        if fstype == "overlay":
            real = mountpoint == "/"
        else:
            real = fstype in NETWORK_FSTYPES or fstype == "zfs" or (
                fstype in block_types and fstype not in IMAGE_FSTYPES)
        if not real:
            continue
        mount = Mount(device or fstype, mountpoint, fstype)
        kept = by_device.get(mount.device)
        if kept is None or (len(mountpoint), mountpoint) < (len(kept.mountpoint), kept.mountpoint):
            by_device[mount.device] = mount
    return sorted(by_device.values(), key=lambda mount: mount.mountpoint)


class FilesystemSource:
    def __init__(self, proc: str, exclude: Optional[Pattern[str]], statvfs: Statvfs = os.statvfs) -> None:
        self._proc = proc
        self._exclude = exclude
        self._statvfs = statvfs
        self.mounts: List[Mount] = []

    def refresh(self) -> None:
        """Read the mount list again (it changes rarely; collect() measures the last one read)."""
        with open(self._proc + "/filesystems", encoding="ascii") as handle:
            types = block_fstypes(handle.read())
        with open(self._proc + "/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
            entries = parse_mountinfo(handle.read())
        if any(entry.device in PLACEHOLDER_DEVICES for entry in entries):
            with open(self._proc + "/partitions", encoding="ascii") as handle:
                names = partition_names(handle.read())
            entries = [entry._replace(device="/dev/" + names[entry.number])
                       if entry.device in PLACEHOLDER_DEVICES and entry.number in names else entry
                       for entry in entries]
        self.mounts = select_mounts(((e.device, e.mountpoint, e.fstype) for e in entries), types, self._exclude)

    def collect(self, out: MetricSet) -> None:
        for mount in self.mounts:
            try:
                stat = self._statvfs(mount.mountpoint)
            except OSError:
                continue  # unmounted since the list was read, no permission, a stale NFS handle
            if not stat.f_blocks:
                continue
            size = stat.f_blocks * stat.f_frsize
            free = stat.f_bavail * stat.f_frsize
            used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
            labels = {"mount": mount.mountpoint, "device": mount.device, "fstype": mount.fstype}
            out.add("fleetmon_filesystem_size_bytes", size, labels)
            out.add("fleetmon_filesystem_used_bytes", used, labels)
            out.add("fleetmon_filesystem_free_bytes", free, labels)
            out.add("fleetmon_filesystem_usage_ratio", used / (used + free) if used + free else 0.0, labels)
