"""The hub config's ``auth`` section: the console's users, their roles and credentials, and what an anonymous
reader may see (docs/hub.md, "Users and sessions").

Only hashes are configured: a password as ``scrypt$N$r$p$salt$hash`` (fleetmon.hub.auth.passwords), an API
token as ``sha256$hex`` (fleetmon.hub.auth.tokens). ``api.token`` stays beside them as an admin token of a user
named ``api``, so that name is not a user's.
"""

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from fleetmon.config_reader import Node
from fleetmon.hub.auth.passwords import password_hash_problem
from fleetmon.hub.auth.policy import ROLES
from fleetmon.hub.auth.tokens import is_token_hash

#: The user name ``api.token`` acts as.
API_TOKEN_USER = "api"
DEFAULT_SESSION_TTL = 12 * 3600.0
#: However often a session is used, it ends this long after its login.
SESSION_MAX_AGE = 7 * 86400.0
_USER_NAME = re.compile(r"^[\w.@+-]{1,64}$")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str  # viewer | operator | admin
    password_hash: str = ""  # "": the user has API tokens only and cannot log in
    tokens: tuple[str, ...] = ()  # sha256$<hex> each


@dataclass(frozen=True, slots=True)
class AuthConfig:
    users: Mapping[str, User] = field(default_factory=lambda: MappingProxyType({}))
    anonymous_read: bool = True
    session_ttl: float = DEFAULT_SESSION_TTL  # idle sessions end after this
    token_owners: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # token hash -> user


def parse_auth(node: Node) -> AuthConfig:
    node = node.mapping(("anonymous_read", "session_ttl", "users"))
    users: dict[str, User] = {}
    owners: dict[str, str] = {}
    listed: set[str] = set()  # every name seen, also of users with errors: a second entry is reported as such
    for item in node.child("users").sequence():
        user = _user(item, listed, owners)
        if user is not None:
            users[user.name] = user
    ttl_node = node.child("session_ttl")
    session_ttl = ttl_node.duration(DEFAULT_SESSION_TTL, minimum=60)
    if session_ttl > SESSION_MAX_AGE:
        ttl_node.fail(f"must be at most 7d, the most any session lasts (got {session_ttl:g}s)")
        session_ttl = SESSION_MAX_AGE
    # A hub without users keeps what it always did: anyone may read, changes need the API token.
    anonymous_read = node.child("anonymous_read").boolean(not users)
    return AuthConfig(users=MappingProxyType(users), anonymous_read=anonymous_read, session_ttl=session_ttl,
                      token_owners=MappingProxyType(owners))


def _user(item: Node, listed: set[str], owners: dict[str, str]) -> User | None:
    if not isinstance(item.value, dict):
        item.fail("must be a mapping with name, role, password_hash and tokens")
        return None
    item = item.mapping(("name", "role", "password_hash", "tokens"))
    name_node = item.child("name")
    if name_node.missing:
        name_node.fail("must name the user")
        return None
    name = name_node.string(None)
    if name is None:  # not a string, and said so
        return None
    if not _USER_NAME.match(name):
        name_node.fail(f"{name!r} is not a user name (letters, digits and . _ @ + -, at most 64)")
        return None
    if name == API_TOKEN_USER:
        name_node.fail(f"{name!r} is the name api.token acts as; choose another")
        return None
    if name in listed:
        name_node.fail(f"user {name!r} is listed twice")
        return None
    listed.add(name)
    role_node = item.child("role")
    if role_node.missing:
        role_node.fail("must be one of: " + ", ".join(ROLES))
    role = role_node.string("", choices=ROLES)
    hash_node = item.child("password_hash")
    password_hash = hash_node.string("")
    problem = password_hash_problem(password_hash) if password_hash else None
    if problem:
        hash_node.fail(f"{problem} (`fleetmon hub hash-password` prints one)")
    tokens = []
    for token_node in item.child("tokens").sequence():
        token = token_node.string("")
        if not is_token_hash(token):
            token_node.fail("must be sha256$<64 hex digits> (`fleetmon hub new-token` prints one)")
        elif token in owners:
            token_node.fail(f"this token is given to {owners[token]!r} already; a token names one user")
        else:
            tokens.append(token)
            owners[token] = name  # also for a user with other errors: a second holder is named all the same
    if not password_hash and not tokens:
        hash_node.fail("a user needs a password_hash, API tokens, or both")
    if not role or problem:
        return None
    return User(name, role, password_hash, tuple(tokens))
