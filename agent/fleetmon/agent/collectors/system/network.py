"""Traffic, packets, errors and drops per network interface, from /proc/net/dev.

These are the interfaces of the agent's network namespace (inside a container, the container's), the
list psutil reads from the same file. The counters are the kernel's own: they start again from zero
when an interface is re-created (a container's veth) or its driver resets, which the hub reads as a
counter reset.
"""

from typing import Dict, NamedTuple, Optional, Pattern

from fleetmon.protocol.metricset import MetricSet


class InterfaceCounters(NamedTuple):
    receive_bytes: int
    receive_packets: int
    receive_errors: int
    receive_drops: int
    transmit_bytes: int
    transmit_packets: int
    transmit_errors: int
    transmit_drops: int


def parse_net_dev(text: str) -> Dict[str, InterfaceCounters]:
    out: Dict[str, InterfaceCounters] = {}
    for line in text.splitlines()[2:]:  # two header lines
        # 'name: bytes packets errs drop fifo frame compressed multicast' then the same eight for
        # transmit, with 'colls carrier' in place of 'frame multicast'. Old kernels write no space
        # after the colon, so split at it (an interface name cannot contain one).
        name, colon, rest = line.rpartition(":")
        if not colon:
            continue
        fields = [int(value) for value in rest.split()]
        out[name.strip()] = InterfaceCounters(*fields[0:4], *fields[8:12])
    return out


class NetworkSource:
    def __init__(self, proc: str, exclude: Optional[Pattern[str]]) -> None:
        self._proc = proc
        self._exclude = exclude

    def collect(self, out: MetricSet) -> None:
        with open(self._proc + "/net/dev", encoding="utf-8", errors="surrogateescape") as handle:
            interfaces = parse_net_dev(handle.read())
        for interface, io in interfaces.items():
            if self._exclude is not None and self._exclude.fullmatch(interface):
                continue
            labels = {"interface": interface}
            out.add("fleetmon_network_receive_bytes_total", io.receive_bytes, labels)
            out.add("fleetmon_network_transmit_bytes_total", io.transmit_bytes, labels)
            out.add("fleetmon_network_receive_packets_total", io.receive_packets, labels)
            out.add("fleetmon_network_transmit_packets_total", io.transmit_packets, labels)
            out.add("fleetmon_network_receive_errors_total", io.receive_errors, labels)
            out.add("fleetmon_network_transmit_errors_total", io.transmit_errors, labels)
            out.add("fleetmon_network_receive_drops_total", io.receive_drops, labels)
            out.add("fleetmon_network_transmit_drops_total", io.transmit_drops, labels)
