"""The broker's MQTT users and what each may read and write, as data for the password file and the ACL.

A host reads its own status (to re-assert its birth over a stale will), the hub's status (back-fill drains
only while the hub is there) and its own acks (what the hub stored, what it asks again), never another
host's; it writes only under its own topic tree. The hub reads every host and owns the fleet and hub trees.
Further users (a read-only dashboard) get exactly the patterns the inventory lists.
"""


def fleetmon_broker_users(host_ids, hub_user, extra_users, prefix):
    """Every MQTT user as ``{name, read, write, readwrite}``: the hub, the agent hosts by id, the extra users by
    name. Passwords are added by fleetmon_with_passwords (role fleetmon_common)."""
    users = [{"name": hub_user, "read": [f"{prefix}/hosts/#"], "write": [],
              "readwrite": [f"{prefix}/fleet/#", f"{prefix}/hub/#"]}]
    for host_id in sorted(host_ids):
        own = f"{prefix}/hosts/{host_id}"
        users.append({"name": host_id,
                      "read": [f"{own}/status", f"{prefix}/hub/status", f"{prefix}/hub/acks/{host_id}"],
                      "write": [f"{own}/#"], "readwrite": []})
    for user in sorted(extra_users or [], key=lambda user: user["name"]):
        users.append({"name": user["name"], "read": list(user.get("read") or []),
                      "write": list(user.get("write") or []), "readwrite": []})
    return users


class FilterModule:
    def filters(self):
        return {"fleetmon_broker_users": fleetmon_broker_users}
