"""The AWS credentials that sign sns_configs' requests, looked up as Alertmanager's AWS SDK for Go v2 does
(``config.LoadDefaultConfig``, its credential chain), the first that has them winning:

1. ``sigv4.access_key`` / ``secret_key``;
2. with ``sigv4.profile``: that section of the shared credentials file, and nothing of the environment;
3. else ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (with ``AWS_SESSION_TOKEN``);
4. else, with ``AWS_WEB_IDENTITY_TOKEN_FILE``: ``AWS_ROLE_ARN`` assumed with that OIDC token (an EKS
   service account's; receivers.aws_sts), whatever else is set;
5. else the shared credentials file (``AWS_SHARED_CREDENTIALS_FILE`` or ``~/.aws/credentials``), section
   ``AWS_PROFILE`` or ``default``;
6. then the container credentials endpoint (``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` on ECS, or
   ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` with ``AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)``), else the EC2
   instance metadata service (IMDSv2, at ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` or 169.254.169.254;
   ``AWS_EC2_METADATA_DISABLED=true`` skips it).

Keys and files are read at each attempt, so rotated keys are picked up; temporary credentials (web
identity, container, instance) are kept until a minute before they expire.
"""

import configparser
import ipaddress
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fleetmon.hub.alerting.receivers import sigv4
from fleetmon.hub.alerting.receivers.aws_sts import EXPIRY_MARGIN, WebIdentity, expiry
from fleetmon.hub.alerting.receivers.base import DeliveryError
from fleetmon.hub.alerting.receivers.http import HttpConfig, post

IMDS_ENDPOINT = "http://169.254.169.254"
ECS_ENDPOINT = "http://169.254.170.2"
LOOKUP_TIMEOUT = 1.0  # seconds per metadata request, as the AWS SDKs wait
_CONTAINER_HOSTS = ("169.254.170.2", "169.254.170.23", "fd00:ec2::23")  # ECS and EKS Pod Identity agents


def _metadata(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> bytes:
    return post(url, None, HttpConfig(), LOOKUP_TIMEOUT, headers=headers, method=method)


def _from_json(answer: bytes, source: str) -> tuple[sigv4.Credentials, float]:
    try:
        document = json.loads(answer)
        return (sigv4.Credentials(document["AccessKeyId"], document["SecretAccessKey"], document.get("Token", "")),
                expiry(document["Expiration"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DeliveryError(f"{source}: the answer carries no complete credentials", retryable=True) from exc


def container_credentials(env: Mapping[str, str]) -> tuple[sigv4.Credentials, float] | None:
    """The ECS (or EKS Pod Identity) agent's credentials, when the environment points to one."""
    relative, full = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if not (relative or full):
        return None
    url = ECS_ENDPOINT + relative if relative else full or ""
    parts = urlsplit(url)
    if not relative and parts.scheme != "https":
        try:
            allowed = ipaddress.ip_address(parts.hostname or "").is_loopback or parts.hostname in _CONTAINER_HOSTS
        except ValueError:
            allowed = parts.hostname == "localhost"
        if not allowed:  # the SDKs' rule: a token is not sent in clear text to any other host
            raise DeliveryError("AWS_CONTAINER_CREDENTIALS_FULL_URI must be https:// or a loopback or container "
                                "agent address", retryable=False)
    token = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
    if env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"):
        try:
            token = Path(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise DeliveryError(f"cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: {exc}", retryable=True) from exc
    source = "container credentials"
    try:
        answer = _metadata(url, {"Authorization": token} if token else {})
    except DeliveryError as exc:
        raise DeliveryError(f"{source}: {exc}", retryable=exc.retryable, status=exc.status) from exc
    return _from_json(answer, source)


def instance_credentials(env: Mapping[str, str]) -> tuple[sigv4.Credentials, float] | None:
    """The EC2 instance role's credentials over IMDSv2; None where no metadata service answers."""
    if env.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        return None
    base = (env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_ENDPOINT).rstrip("/")
    try:
        token = _metadata(f"{base}/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "21600"}, "PUT")
        headers = {"X-aws-ec2-metadata-token": token.decode("ascii", "replace").strip()}
        roles = _metadata(f"{base}/latest/meta-data/iam/security-credentials/", headers).decode().split()
    except DeliveryError:
        return None  # not on EC2, or no role attached: the chain ends without credentials
    if not roles:
        return None
    source = "EC2 instance metadata"
    try:
        answer = _metadata(f"{base}/latest/meta-data/iam/security-credentials/{roles[0]}", headers)
    except DeliveryError as exc:
        raise DeliveryError(f"{source}: {exc}", retryable=exc.retryable, status=exc.status) from exc
    return _from_json(answer, source)


@dataclass(eq=False)
class MachineCredentials:
    """The container's or instance's temporary credentials, kept until a minute before they expire."""

    _credentials: sigv4.Credentials | None = field(default=None, repr=False)
    _expiry: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def lookup(self, env: Mapping[str, str]) -> sigv4.Credentials | None:
        with self._lock:
            if self._credentials is None or time.time() >= self._expiry - EXPIRY_MARGIN:
                found = container_credentials(env) or instance_credentials(env)
                self._credentials, self._expiry = found if found else (None, 0.0)
            return self._credentials


def _shared(profile: str, env: Mapping[str, str]) -> tuple[sigv4.Credentials | None, Path]:
    """The keys of ``profile`` in the shared credentials file, and the file's path."""
    path = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials")
    shared = configparser.ConfigParser(interpolation=None)
    try:
        shared.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise DeliveryError(f"cannot read AWS credentials from {path}: {exc}", retryable=False) from exc
    section = shared[profile] if shared.has_section(profile) else {}
    if section.get("aws_access_key_id") and section.get("aws_secret_access_key"):
        return sigv4.Credentials(section["aws_access_key_id"], section["aws_secret_access_key"],
                                 section.get("aws_session_token", "")), path
    return None, path


@dataclass(eq=False)
class CredentialChain:
    """One sns_configs entry's chain: its ``sigv4`` keys and profile, and the temporary credentials found."""

    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    profile: str = ""  # sigv4.profile
    web_identity: WebIdentity = field(default_factory=WebIdentity)
    machine: MachineCredentials = field(default_factory=MachineCredentials)

    def credentials(self, region: str, http: HttpConfig, timeout: float,
                    env: Mapping[str, str] | None = None) -> sigv4.Credentials:
        """The first credentials of the chain; ``http`` and ``timeout`` are for the STS request of web
        identity."""
        if self.access_key:
            return sigv4.Credentials(self.access_key, self.secret_key)
        env = dict(os.environ) if env is None else env
        if not self.profile:
            if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
                return sigv4.Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"],
                                         env.get("AWS_SESSION_TOKEN", ""))
            if env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
                return self.web_identity.credentials(env, region, http, timeout)
        profile = self.profile or env.get("AWS_PROFILE") or "default"
        shared, path = _shared(profile, env)
        if shared is not None:
            return shared
        machine = self.machine.lookup(env)
        if machine is not None:
            return machine
        keys = "" if self.profile else "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE " \
                                       "and AWS_ROLE_ARN, or "
        raise DeliveryError(f"no AWS credentials: set sigv4.access_key/secret_key, {keys}profile {profile!r} in "
                            f"{path}; no container credentials endpoint is set and no EC2 instance metadata "
                            f"answered", retryable=False)
