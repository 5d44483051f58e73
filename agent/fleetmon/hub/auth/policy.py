"""Who may make which request: the one decision of the hub's access control, by method and path alone.

Reads of the API need a viewer (an anonymous reader counts as one where ``auth.anonymous_read`` allows), changes
an operator, the audit log an admin. Open to anyone: the probes, ``/metrics`` (Prometheus scrapes it and it
carries no secrets), the login, who-am-i and logout, and the console's own files outside ``/api/`` — the page
asks who-am-i and shows the login itself.
"""

from typing import Literal

Required = Literal["open", "viewer", "operator", "admin"]

ROLES = ("viewer", "operator", "admin")  # each may do what the ones before it may
READS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/api/v1/auth/login"
LOGOUT_PATH = "/api/v1/auth/logout"
ME_PATH = "/api/v1/auth/me"
AUDIT_PATH = "/api/v1/audit"
_OPEN_READS = frozenset({"/metrics", ME_PATH})
_OPEN_CHANGES = frozenset({LOGIN_PATH, LOGOUT_PATH})


def required_role(method: str, path: str) -> Required:
    if path == AUDIT_PATH or path.startswith(AUDIT_PATH + "/"):
        return "admin"
    if method.upper() in READS:
        if path in _OPEN_READS or path.startswith("/health/") or not path.startswith("/api/"):
            return "open"
        return "viewer"
    return "open" if path in _OPEN_CHANGES else "operator"


def allows(role: str | None, required: Required) -> bool:
    """Whether ``role`` (None: nobody) may make a request that needs ``required``."""
    if required == "open":
        return True
    return role in ROLES and ROLES.index(role) >= ROLES.index(required)
