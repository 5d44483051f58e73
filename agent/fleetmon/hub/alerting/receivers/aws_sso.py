"""IAM Identity Center (SSO) credentials of a shared config profile, as the AWS SDK for Go v2's ``ssocreds``
gets them: the access token that ``aws sso login`` cached, exchanged at the SSO portal's
``GetRoleCredentials`` for the account's role.

The token is read at each renewal from ``~/.aws/sso/cache/<SHA-1 hex of the sso-session name, or of the
start URL for a legacy profile>.json`` (``accessToken``, ``expiresAt``). The hub does not refresh tokens,
which the SDK does for an ``sso-session`` through SSO OIDC: once the token has expired, an attempt fails
saying to run ``aws sso login`` again. The portal is ``AWS_ENDPOINT_URL_SSO``, else ``AWS_ENDPOINT_URL`` (the
SDKs' endpoint variables), else ``https://portal.sso.<sso_region>.amazonaws.com``; the request goes out with
the receiver's ``http_config`` (TLS, proxy).
"""

import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlencode

from fleetmon.hub.alerting.receivers import sigv4
from fleetmon.hub.alerting.receivers.aws_shared_config import Sso
from fleetmon.hub.alerting.receivers.aws_sts import expiry
from fleetmon.hub.alerting.receivers.base import DeliveryError
from fleetmon.hub.alerting.receivers.http import HttpConfig, post


def cached_token_path(key: str, env: Mapping[str, str]) -> Path:
    """Where the AWS CLI's ``aws sso login`` keeps the token of ``key`` (session name or start URL)."""
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".aws" / "sso" / "cache" / f"{hashlib.sha1(key.encode('utf-8')).hexdigest()}.json"


def portal_url(region: str, env: Mapping[str, str]) -> str:
    configured = env.get("AWS_ENDPOINT_URL_SSO") or env.get("AWS_ENDPOINT_URL")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return (configured or f"https://portal.sso.{region}.{suffix}").rstrip("/") + "/federation/credentials"


def _login(sso: Sso) -> str:
    return f"aws sso login --sso-session {sso.session}" if sso.session else f"aws sso login --profile {sso.profile}"


def cached_token(sso: Sso, env: Mapping[str, str]) -> str:
    """The cached access token of ``sso``; DeliveryError when there is none or it has expired (a later attempt
    reads the cache again, so a login meanwhile lets it through)."""
    path = cached_token_path(sso.cache_key, env)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        token, expires = document["accessToken"], document["expiresAt"]
        until = expiry(expires)
    except FileNotFoundError as exc:
        raise DeliveryError(f"profile {sso.profile!r}: no SSO token cached at {path}: run `{_login(sso)}`",
                            retryable=True) from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DeliveryError(f"profile {sso.profile!r}: cannot read the SSO token cached at {path} ({exc}): run "
                            f"`{_login(sso)}`", retryable=True) from exc
    if not isinstance(token, str) or not token:
        raise DeliveryError(f"profile {sso.profile!r}: the SSO token cached at {path} is empty: run `{_login(sso)}`",
                            retryable=True)
    if time.time() > until:
        raise DeliveryError(f"profile {sso.profile!r}: the SSO token cached at {path} expired at {expires}: run "
                            f"`{_login(sso)}` (the hub does not refresh SSO tokens)", retryable=True)
    return token


def sso_credentials(sso: Sso, env: Mapping[str, str], http: HttpConfig, timeout: float
                    ) -> tuple[sigv4.Credentials, float]:
    """The role's credentials from GetRoleCredentials, and their expiry (unix seconds)."""
    token = cached_token(sso, env)
    url = portal_url(sso.region, env) + "?" + urlencode({"account_id": sso.account_id, "role_name": sso.role_name})
    try:
        answer = post(url, None, http, timeout, headers={"x-amz-sso_bearer_token": token}, method="GET")
    except DeliveryError as exc:
        hint = f": the portal refused the cached token, run `{_login(sso)}`" if exc.status == 401 else ""
        raise DeliveryError(f"SSO GetRoleCredentials of {sso.role_name} in {sso.account_id} failed: {exc}{hint}",
                            retryable=exc.retryable, status=exc.status) from exc
    try:
        role = json.loads(answer)["roleCredentials"]
        return (sigv4.Credentials(role["accessKeyId"], role["secretAccessKey"], role.get("sessionToken") or ""),
                float(role["expiration"]) / 1000)
    except (ValueError, KeyError, TypeError) as exc:
        raise DeliveryError("SSO GetRoleCredentials: the answer carries no complete credentials",
                            retryable=True) from exc
