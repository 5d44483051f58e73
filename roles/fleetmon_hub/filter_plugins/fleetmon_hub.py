"""Data of the hub's config that the role derives from the inventory: the default dashboard, the console
users with their password and token hashes, and the names and URL of the hub's HTTPS listener.

Password hashes are scrypt with a salt derived from the controller's credential secret and the user's name
(as fleetmon_common derives MQTT passwords), so a second run renders the same hash and changes nothing;
the hub verifies them in fleetmon.hub.auth.passwords, whose format this is. Only hashes reach the hub.
"""

import base64
import hashlib
import hmac
import re

from ansible.errors import AnsibleFilterError

ROLES = ("viewer", "operator", "admin")
USER_KEYS = ("name", "role", "password", "tokens")
# User names the hub takes (fleetmon.hub.auth.config); "api" is the one it gives the API token.
USER_NAME = re.compile(r"^[\w.@+-]{1,64}$")
API_TOKEN_USER = "api"
# The hub's password hash: scrypt$N$r$p$<salt>$<hash>, standard base64 (fleetmon.hub.auth.passwords).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 16384, 8, 1
SCRYPT_SALT_BYTES = 16
SCRYPT_HASH_BYTES = 32
# Addresses that listen on every interface: a client reaches the hub on this host through the loopback.
WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1"}
# HOST:PORT as fleetmon.hub.config reads it.
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$")


def fleetmon_hub_default_dashboard(expected_hosts, gathering_group):
    """The dashboard when the inventory gives none: one section per inventory group of the expected hosts
    (``{host_id: groups}``), sorted, leaving out ``gathering_group`` (the group that only gathers them all,
    agents), so each host shows under its role (servers, jetsons, models). No groups, no dashboard: ``{}``."""
    groups = sorted({group for host_groups in expected_hosts.values() for group in host_groups} - {gathering_group})
    return {"sections": [{"group": group} for group in groups]} if groups else {}


def fleetmon_hub_user_errors(users):
    """Every problem of ``fleetmon_hub_users``, as sentences naming the entry; never a password or token."""
    if not isinstance(users, list):
        return ["fleetmon_hub_users must be a list of {name, role, password, tokens}"]
    errors = []
    first_entry = {}
    token_owner = {}
    for index, user in enumerate(users):
        where = f"fleetmon_hub_users[{index}]"
        if not isinstance(user, dict):
            errors.append(f"{where} must be a mapping with name, role, password and tokens")
            continue
        name = user.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.append(f"{where}: name is missing or empty")
            continue
        where = f"{where} ({name})"
        if not USER_NAME.match(name):
            errors.append(f"{where}: {name!r} is not a user name the hub takes (letters, digits and . _ @ + -, "
                          "at most 64)")
        if name == API_TOKEN_USER:
            errors.append(f"{where}: {name!r} is the name the hub gives the API token (fleetmon_hub_api_token); "
                          "choose another")
        if name in first_entry:
            errors.append(f"{where}: user {name!r} is listed twice in fleetmon_hub_users "
                          f"(entries {first_entry[name]} and {index})")
        first_entry.setdefault(name, index)
        unknown = sorted(set(user) - set(USER_KEYS))
        if unknown:
            errors.append(f"{where}: unknown keys {', '.join(map(str, unknown))}; known: {', '.join(USER_KEYS)}")
        if user.get("role") not in ROLES:
            errors.append(f"{where}: role {user.get('role')!r} is not one of {', '.join(ROLES)}")
        tokens = user.get("tokens", [])
        if "password" in user:
            if not isinstance(user["password"], str) or not user["password"]:
                errors.append(f"{where}: password is empty; set it from a vault variable")
        elif not tokens:
            errors.append(f"{where}: needs a password (a vault variable), or API tokens for a user that only "
                          "scripts use")
        if not isinstance(tokens, list) or not all(isinstance(token, str) and token for token in tokens):
            errors.append(f"{where}: tokens must be a list of non-empty API tokens (vault variables)")
            continue
        for token in tokens:
            if token in token_owner:
                errors.append(f"{where}: one of its tokens is given twice (the other time to {token_owner[token]}); "
                              "a token names one user")
            token_owner.setdefault(token, name)
    return errors


def fleetmon_hub_password_hash(password, secret, name):
    """The hub's scrypt hash of ``password``, its salt HMAC-SHA256(controller secret, user name)."""
    if not password:
        raise AnsibleFilterError(f"fleetmon_hub_password_hash: empty password for {name!r}")
    if not secret or len(str(secret).strip()) < 16:
        raise AnsibleFilterError("fleetmon_hub_password_hash: the controller secret is missing or too short")
    salt = hmac.new(str(secret).strip().encode(), b"fleetmon-hub-password-salt:" + str(name).encode(),
                    hashlib.sha256).digest()[:SCRYPT_SALT_BYTES]
    derived = hashlib.scrypt(str(password).encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                             dklen=SCRYPT_HASH_BYTES)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(derived).decode()])


def fleetmon_hub_token_hash(token):
    """An API token as the hub stores it: ``sha256$<hex>`` (a token is random; no salt is needed)."""
    if not token:
        raise AnsibleFilterError("fleetmon_hub_token_hash: empty token")
    return "sha256$" + hashlib.sha256(str(token).encode()).hexdigest()


def fleetmon_hub_auth_users(users, secret):
    """``fleetmon_hub_users`` as the hub config's ``auth.users``: hashes in place of passwords and tokens.
    A user without a password (tokens only) gets no password hash: it cannot log in to the console."""
    return [{"name": user["name"], "role": user["role"],
             **({"password_hash": fleetmon_hub_password_hash(user["password"], secret, user["name"])}
                if "password" in user else {}),
             "tokens": [fleetmon_hub_token_hash(token) for token in user.get("tokens", [])]}
            for user in users]


def _listen_host(listen):
    match = _LISTEN.match(str(listen))
    if not match:
        raise AnsibleFilterError(f"fleetmon_hub: listen must be HOST:PORT, got {listen!r}")
    return match["host"].strip("[]"), match["port"]


def fleetmon_hub_cert_names(hostname, address, listen, extra=()):
    """Names of the hub's HTTPS certificate: its inventory name, its address, the address it listens on
    (the loopback when it listens on every interface: the role's readiness probe comes from there) and
    ``extra``, each once, in that order."""
    host, _ = _listen_host(listen)
    names = [str(hostname), str(address), WILDCARD_HOSTS.get(host, host), *map(str, extra)]
    if host in WILDCARD_HOSTS:
        names.append("localhost")
    return [name for index, name in enumerate(names) if name and name not in names[:index]]


def fleetmon_hub_local_url(listen, tls):
    """The hub's base URL from its own host: https when ``tls``, its listen address (the loopback for a
    wildcard one), IPv6 in brackets."""
    host, port = _listen_host(listen)
    host = WILDCARD_HOSTS.get(host, host)
    return f"{'https' if tls else 'http'}://{f'[{host}]' if ':' in host else host}:{port}"


class FilterModule:
    def filters(self):
        return {
            "fleetmon_hub_default_dashboard": fleetmon_hub_default_dashboard,
            "fleetmon_hub_user_errors": fleetmon_hub_user_errors,
            "fleetmon_hub_password_hash": fleetmon_hub_password_hash,
            "fleetmon_hub_token_hash": fleetmon_hub_token_hash,
            "fleetmon_hub_auth_users": fleetmon_hub_auth_users,
            "fleetmon_hub_cert_names": fleetmon_hub_cert_names,
            "fleetmon_hub_local_url": fleetmon_hub_local_url,
        }
