"""The host's CPU, memory, filesystems, disks, network, temperatures and top processes.

Linux only, like the agent. Each source is a module that reads the kernel's files below the roots it
is given, ``proc`` and ``sys`` (``/proc`` and ``/sys`` unless told otherwise, like node_exporter's
``--path.procfs`` and ``--path.sysfs``), so that a tree recorded from a Jetson or an odd server decides
every value its tests see. psutil reads most of the same files, but only below /proc, and some of what
it says is wrong for this purpose; each module says where and why it reads the files itself.
"""

from fleetmon.agent.collectors.system.collector import SystemCollector

__all__ = ["SystemCollector"]
