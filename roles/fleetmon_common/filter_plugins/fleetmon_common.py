"""Filters shared by the fleetmon roles: deterministic credentials and mosquitto password hashes, and the
agent hosts of the inventory as the broker (one MQTT user each) and the hub (the hosts it expects) see them.

Credentials are derived from one controller-side secret, so every run (and every role: broker, agent,
hub) computes the same password for a user without storing a list of passwords; an inventory variable
(vaulted) can override any of them. The mosquitto hash uses a salt derived from the user and the password,
so the password file only changes when a password does.
"""

import base64
import hashlib
import hmac

from ansible.errors import AnsibleFilterError

MOSQUITTO_PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for $7$ (PBKDF2-SHA512)
MOSQUITTO_SALT_BYTES = 12
MOSQUITTO_HASH_BYTES = 64


def fleetmon_derive_password(secret, username):
    """The password of ``username``: HMAC-SHA256 of the controller secret, 32 URL-safe characters."""
    if not secret or len(str(secret).strip()) < 16:
        raise AnsibleFilterError("fleetmon_derive_password: the controller secret is missing or too short")
    digest = hmac.new(str(secret).strip().encode(), b"fleetmon-mqtt-password:" + str(username).encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


def fleetmon_mosquitto_hash(password, username, iterations=MOSQUITTO_PBKDF2_ITERATIONS):
    """A mosquitto password-file hash, ``$7$<iterations>$<salt>$<hash>``, with a deterministic salt."""
    if not password:
        raise AnsibleFilterError(f"fleetmon_mosquitto_hash: empty password for {username!r}")
    salt = hmac.new(str(password).encode(), b"fleetmon-mosquitto-salt:" + str(username).encode(),
                    hashlib.sha256).digest()[:MOSQUITTO_SALT_BYTES]
    derived = hashlib.pbkdf2_hmac("sha512", str(password).encode(), salt, int(iterations), MOSQUITTO_HASH_BYTES)
    return f"$7${int(iterations)}${base64.b64encode(salt).decode()}${base64.b64encode(derived).decode()}"


def fleetmon_with_passwords(users, secret, pinned):
    """Each user (a mapping with a ``name``) with its ``password``: the one pinned for it in ``pinned``
    (fleetmon_credentials, vaulted), else the one derived from the controller secret."""
    pinned = pinned or {}
    return [{**user, "password": pinned[user["name"]] if user["name"] in pinned
             else fleetmon_derive_password(secret, user["name"])} for user in users]


def fleetmon_agent_hosts(names, hostvars):
    """The agent hosts ``names`` (inventory names, in their order) as ``{name, host_id, groups}``.

    The host id is the host's ``fleetmon_agent_host_id`` where the inventory sets it, else its inventory name,
    which is the agent role's default: the broker makes one MQTT user per host id and the hub expects each.
    ``groups`` are the host's inventory groups, sorted.
    """
    hosts = []
    for name in names:
        host = hostvars[name]
        host_id = host.get("fleetmon_agent_host_id", name)
        hosts.append({"name": name, "host_id": str(host_id), "groups": sorted(host["group_names"])})
    return hosts


def fleetmon_bridged_sites(names, hostvars, center):
    """The sites whose broker bridges to the broker on ``center`` (an inventory host name), sorted: the
    ``fleetmon_site`` of every host in ``names`` whose ``fleetmon_broker_center`` is ``center``."""
    sites = set()
    for name in names:
        host = hostvars[name]
        if center and host.get("fleetmon_broker_center") == center:
            site = str(host.get("fleetmon_site") or "")
            if not site:
                raise AnsibleFilterError(f"{name} bridges to {center} (fleetmon_broker_center) but sets no fleetmon_site")
            sites.add(site)
    return sorted(sites)


class FilterModule:
    def filters(self):
        return {
            "fleetmon_derive_password": fleetmon_derive_password,
            "fleetmon_mosquitto_hash": fleetmon_mosquitto_hash,
            "fleetmon_with_passwords": fleetmon_with_passwords,
            "fleetmon_agent_hosts": fleetmon_agent_hosts,
            "fleetmon_bridged_sites": fleetmon_bridged_sites,
        }
