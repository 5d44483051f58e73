"""Data of the hub's config that the role derives from the inventory."""


def fleetmon_hub_default_dashboard(expected_hosts, gathering_group):
    """The dashboard when the inventory gives none: one section per inventory group of the expected hosts
    (``{host_id: groups}``), sorted, leaving out ``gathering_group`` (the group that only gathers them all,
    agents), so each host shows under its role (servers, jetsons, models). No groups, no dashboard: ``{}``."""
    groups = sorted({group for host_groups in expected_hosts.values() for group in host_groups} - {gathering_group})
    return {"sections": [{"group": group} for group in groups]} if groups else {}


class FilterModule:
    def filters(self):
        return {"fleetmon_hub_default_dashboard": fleetmon_hub_default_dashboard}
