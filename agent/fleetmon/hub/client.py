"""How the command line (`fleetmon status --hub`, `alerts`, `ack`, `silence`) talks to the hub's HTTP API:
http or https — verified against the system's CAs, or against ``--ca-file`` (the fleet CA that signed the
hub's certificate) — with an API token on every request when one is given, since a hub with users lets no
anonymous reader in."""

import json
import os
import ssl
import urllib.request
from typing import Any

#: Where the token comes from when no flag gives one.
TOKEN_VARIABLE = "FLEETMON_API_TOKEN"


class HubClient:
    def __init__(self, url: str, token: str = "", ca_file: str | None = None, timeout: float = 10.0) -> None:
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout
        self._tls = ssl.create_default_context(cafile=ca_file) if url.startswith("https:") else None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The answer's JSON; raises urllib.error.HTTPError for an error status, OSError when unreachable."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout, context=self._tls) as response:
            return json.loads(response.read() or b"{}")


def token_from(token: str | None, token_file: str | None) -> str:
    """The API token of ``--token``, else of ``--token-file``, else of $FLEETMON_API_TOKEN, else none."""
    if token:
        return token
    if token_file:
        with open(token_file) as handle:
            return handle.read().strip()
    return os.environ.get(TOKEN_VARIABLE, "")
