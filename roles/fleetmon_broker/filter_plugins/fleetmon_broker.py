"""The broker's MQTT users and what each may read and write, as data for the password file and the ACL.

A host reads its own status (to re-assert its birth over a stale will), the hub's status (back-fill drains
only while the hub is there) and its own acks (what the hub stored, what it asks again), never another
host's; it writes only under its own topic tree. The hub reads every host and owns the fleet and hub trees.
Further users (a read-only dashboard) get exactly the patterns the inventory lists. On a central broker, each
site's bridge writes only under its own site's tree, and the central hub reads them all.
"""


def fleetmon_site_user(site):
    """The MQTT user a site's bridge connects to the central broker as."""
    return f"fleetmon-site-{site}"


def fleetmon_broker_users(host_ids, hub_user, extra_users, prefix, sites=()):
    """Every MQTT user as ``{name, read, write, readwrite}``: the hub, the agent hosts by id, the sites' bridges
    (on a central broker), the extra users by name. Passwords are added by fleetmon_with_passwords (role
    fleetmon_common)."""
    users = [{"name": hub_user, "read": [f"{prefix}/hosts/#", *([f"{prefix}/sites/#"] if sites else [])],
              "write": [], "readwrite": [f"{prefix}/fleet/#", f"{prefix}/hub/#"]}]
    for host_id in sorted(host_ids):
        own = f"{prefix}/hosts/{host_id}"
        users.append({"name": host_id,
                      "read": [f"{own}/status", f"{prefix}/hub/status", f"{prefix}/hub/acks/{host_id}"],
                      "write": [f"{own}/#"], "readwrite": []})
    for site in sorted(sites or ()):
        users.append({"name": fleetmon_site_user(site), "read": [], "write": [f"{prefix}/sites/{site}/#"],
                      "readwrite": []})
    for user in sorted(extra_users or [], key=lambda user: user["name"]):
        users.append({"name": user["name"], "read": list(user.get("read") or []),
                      "write": list(user.get("write") or []), "readwrite": []})
    return users


class FilterModule:
    def filters(self):
        return {"fleetmon_broker_users": fleetmon_broker_users, "fleetmon_site_user": fleetmon_site_user}
