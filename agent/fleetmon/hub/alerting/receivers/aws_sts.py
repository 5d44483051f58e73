"""The two STS calls of sns_configs' credentials (Query API, version 2011-06-15), as the AWS SDK for Go v2
makes them for Alertmanager: ``AssumeRole`` for ``sigv4.role_arn``, signed with the base credentials, and
``AssumeRoleWithWebIdentity`` for an OIDC token (``AWS_WEB_IDENTITY_TOKEN_FILE``, an EKS service
account's), unsigned: the token is the credential. The same two calls serve a shared config profile's
``role_arn`` (receivers.aws_credentials: ``assume_role``, ``assume_role_with_web_identity``).

Both go to ``AWS_ENDPOINT_URL_STS``, else ``AWS_ENDPOINT_URL`` (the SDKs' endpoint variables), else the
regional ``https://sts.<region>.amazonaws.com/``; with ``sigv4.use_fips_sts_endpoint``, to STS's FIPS
endpoint as the AWS SDK for Go v2 resolves it (``https://sts-fips.<region>.amazonaws.com/``; in GovCloud,
whose regional endpoint is FIPS already, ``https://sts.<region>.amazonaws.com/``), and, as in the SDK, not
with an endpoint variable set: FIPS and a custom endpoint do not go together. Both go out with the
receiver's ``http_config`` (TLS, proxy, http_headers), and both keep their temporary credentials until a
minute before they expire. A refusal names STS's error code and message.
"""

import os
import re
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from fleetmon.hub.alerting.receivers import sigv4
from fleetmon.hub.alerting.receivers.base import DeliveryError
from fleetmon.hub.alerting.receivers.http import HttpConfig, post

VERSION = "2011-06-15"
ROLE_SESSION_SECONDS = 900  # the AWS SDK's default AssumeRole duration
EXPIRY_MARGIN = 60.0  # seconds before their expiry temporary credentials are renewed
_FORM = "application/x-www-form-urlencoded; charset=utf-8"
_XML_FIELD = re.compile(r"<(Code|Message)>([^<]*)</\1>")
#: Errors of AssumeRoleWithWebIdentity a later attempt may get past: the SDK retries an invalid token
#: (the identity provider may not have published its keys yet), and the token file is read again.
_WEB_IDENTITY_RETRIED = ("IDPCommunicationError", "InvalidIdentityToken", "ExpiredTokenException")


def sts_endpoint(region: str, env: Mapping[str, str] | None = None, fips: bool = False) -> str:
    """The URL of the STS calls; DeliveryError for FIPS with a custom endpoint, which the SDK refuses."""
    env = os.environ if env is None else env
    configured = env.get("AWS_ENDPOINT_URL_STS") or env.get("AWS_ENDPOINT_URL")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    if not fips:
        return configured or f"https://sts.{region}.{suffix}/"
    if configured:
        raise DeliveryError("sigv4.use_fips_sts_endpoint is set and so is AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL: "
                            "FIPS and custom endpoint are not supported (the AWS SDK's rule)", retryable=False)
    return f"https://sts.{region}.{suffix}/" if region.startswith("us-gov-") else f"https://sts-fips.{region}.{suffix}/"


def expiry(text: str) -> float:
    """An ISO 8601 time of AWS (``2026-11-01T12:00:00Z``) in unix seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def parse_credentials(answer: bytes, action: str) -> tuple[sigv4.Credentials, float]:
    """The credentials of an AssumeRole(WithWebIdentity) answer and their expiry (unix seconds)."""
    try:
        root = ElementTree.fromstring(answer)
    except ElementTree.ParseError as exc:
        raise DeliveryError(f"STS {action}: the answer is not XML: {exc}", retryable=True) from exc
    values = {element.tag.rsplit("}", 1)[-1]: (element.text or "").strip() for element in root.iter()}
    try:
        credentials = sigv4.Credentials(values["AccessKeyId"], values["SecretAccessKey"], values["SessionToken"])
        return credentials, expiry(values["Expiration"])
    except (KeyError, ValueError) as exc:
        raise DeliveryError(f"STS {action}: the answer carries no complete credentials", retryable=True) from exc


def _call(params: dict[str, str], region: str, http: HttpConfig, timeout: float, base: sigv4.Credentials | None,
          fips: bool, retried: tuple[str, ...] = ()) -> tuple[sigv4.Credentials, float]:
    """One STS action, signed with ``base`` (unsigned without), at the FIPS endpoint when ``fips``; an error
    whose code is in ``retried`` is worth another attempt whatever its status."""
    action = params["Action"]
    body = urlencode(params).encode("utf-8")
    url = sts_endpoint(region, fips=fips)
    headers = {"Content-Type": _FORM}
    if base is not None:
        headers = sigv4.signed_headers("POST", url, headers, body, base, region, "sts")
    try:
        answer = post(url, body, http, timeout, content_type=_FORM, headers=headers)
    except DeliveryError as exc:
        fields = dict(_XML_FIELD.findall(str(exc)))
        detail = f"{fields.get('Code', '?')}: {fields.get('Message', '')}" if fields else str(exc)
        raise DeliveryError(f"STS {action} of {params['RoleArn']} failed: {detail}",
                            retryable=exc.retryable or fields.get("Code") in retried, status=exc.status) from exc
    return parse_credentials(answer, action)


@dataclass(eq=False)
class _Cached:
    """Temporary credentials and their expiry, for whatever produced them (``key``)."""

    key: tuple[str, ...] = ()
    credentials: sigv4.Credentials | None = field(default=None, repr=False)
    expiry: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fresh(self, key: tuple[str, ...]) -> sigv4.Credentials | None:
        if self.key == key and self.credentials is not None and time.time() < self.expiry - EXPIRY_MARGIN:
            return self.credentials
        return None

    def keep(self, key: tuple[str, ...], found: tuple[sigv4.Credentials, float]) -> sigv4.Credentials:
        self.key, (self.credentials, self.expiry) = key, found
        return found[0]


def assume_role(base: sigv4.Credentials, role_arn: str, region: str, http: HttpConfig, timeout: float,
                fips: bool = False, session_name: str = "", external_id: str = "",
                duration: int = ROLE_SESSION_SECONDS) -> tuple[sigv4.Credentials, float]:
    """``AssumeRole`` of ``role_arn`` signed with ``base``: the role's credentials and their expiry. The
    session is ``session_name``, else the time in nanoseconds."""
    params = {"Action": "AssumeRole", "Version": VERSION, "RoleArn": role_arn,
              "RoleSessionName": session_name or str(time.time_ns()), "DurationSeconds": str(duration)}
    if external_id:
        params["ExternalId"] = external_id
    return _call(params, region, http, timeout, base, fips)


def assume_role_with_web_identity(token_file: str, role_arn: str, session_name: str, region: str, http: HttpConfig,
                                  timeout: float, fips: bool = False, source: str = "AWS_WEB_IDENTITY_TOKEN_FILE"
                                  ) -> tuple[sigv4.Credentials, float]:
    """``AssumeRoleWithWebIdentity`` of ``role_arn`` with the OIDC token read now from ``token_file`` (named
    ``source`` in errors); the session is ``session_name``, else the time in nanoseconds."""
    try:
        token = Path(token_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"cannot read {source} {token_file}: {exc}", retryable=True) from exc
    if not token:
        raise DeliveryError(f"{source} {token_file} is empty", retryable=True)
    params = {"Action": "AssumeRoleWithWebIdentity", "Version": VERSION, "RoleArn": role_arn,
              "RoleSessionName": session_name or str(time.time_ns()), "WebIdentityToken": token}
    return _call(params, region, http, timeout, None, fips, _WEB_IDENTITY_RETRIED)


@dataclass(eq=False)
class AssumedRole:
    """The credentials of ``role_arn``, assumed with the base credentials and kept until near expiry."""

    role_arn: str
    external_id: str = ""
    fips: bool = False  # sigv4.use_fips_sts_endpoint
    _cache: _Cached = field(default_factory=_Cached, repr=False)

    def credentials(self, base: sigv4.Credentials, region: str, http: HttpConfig, timeout: float
                    ) -> sigv4.Credentials:
        with self._cache.lock:
            kept = self._cache.fresh(())
            if kept is not None:
                return kept
            return self._cache.keep((), assume_role(base, self.role_arn, region, http, timeout, self.fips,
                                                    external_id=self.external_id))


@dataclass(eq=False)
class WebIdentity:
    """``AWS_ROLE_ARN``'s credentials for the OIDC token in ``AWS_WEB_IDENTITY_TOKEN_FILE``, kept until near
    expiry. The file is read at each renewal, since Kubernetes rotates the token in place; the session is
    ``AWS_ROLE_SESSION_NAME``, else the time in nanoseconds, as the SDK names it."""

    fips: bool = False  # sigv4.use_fips_sts_endpoint
    _cache: _Cached = field(default_factory=_Cached, repr=False)

    def credentials(self, env: Mapping[str, str], region: str, http: HttpConfig, timeout: float
                    ) -> sigv4.Credentials:
        token_file, role_arn = env.get("AWS_WEB_IDENTITY_TOKEN_FILE", ""), env.get("AWS_ROLE_ARN", "")
        if not role_arn:
            raise DeliveryError("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN, the role to assume with its "
                                "token, is not", retryable=False)
        key = (token_file, role_arn, env.get("AWS_ROLE_SESSION_NAME", ""), sts_endpoint(region, env, self.fips))
        with self._cache.lock:
            kept = self._cache.fresh(key)
            if kept is not None:
                return kept
            return self._cache.keep(key, assume_role_with_web_identity(token_file, role_arn, key[2], region, http,
                                                                       timeout, self.fips))
