"""The AWS credentials that sign sns_configs' requests, looked up as Alertmanager's AWS SDK for Go v2 does
(``config.LoadDefaultConfig``, its credential chain), the first that has them winning:

1. ``sigv4.access_key`` / ``secret_key``;
2. with ``sigv4.profile``: that profile (step 5), and nothing of the environment's keys or web identity;
3. else ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (with ``AWS_SESSION_TOKEN``);
4. else, with ``AWS_WEB_IDENTITY_TOKEN_FILE``: ``AWS_ROLE_ARN`` assumed with that OIDC token (an EKS
   service account's; receivers.aws_sts), whatever else is set;
5. else the profile ``AWS_PROFILE`` or ``default`` of the shared config and credentials files
   (receivers.aws_shared_config), as the SDK's ``resolveCredsFromProfile`` walks it: its
   ``source_profile``'s credentials, else its keys, else its ``credential_source`` (``Environment``,
   ``Ec2InstanceMetadata``, ``EcsContainer``), else its ``web_identity_token_file`` (its ``role_arn``
   assumed with that token), else SSO (receivers.aws_sso), else ``credential_process``
   (receivers.aws_credential_process), else step 6; then, with a ``role_arn``, that role assumed with
   them (``role_session_name``, ``external_id``, ``duration_seconds``);
6. then the container credentials endpoint (``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` on ECS, or
   ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` with ``AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)``), else the EC2
   instance metadata service (IMDSv2, at ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` or 169.254.169.254;
   ``AWS_EC2_METADATA_DISABLED=true`` skips it).

Keys and files are read at each attempt, so rotated keys and edited profiles are picked up; temporary
credentials (web identity, roles, SSO, a credential_process that gives an expiry, container, instance) are
kept until a minute before they expire, each under what gave it, so an edited profile asks again.
"""

import ipaddress
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fleetmon.hub.alerting.receivers import sigv4
from fleetmon.hub.alerting.receivers.aws_credential_process import process_credentials
from fleetmon.hub.alerting.receivers.aws_shared_config import Profile, SharedFiles, load_profile
from fleetmon.hub.alerting.receivers.aws_sso import portal_url, sso_credentials
from fleetmon.hub.alerting.receivers.aws_sts import (
    EXPIRY_MARGIN,
    ROLE_SESSION_SECONDS,
    WebIdentity,
    assume_role,
    assume_role_with_web_identity,
    expiry,
    sts_endpoint,
)
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


Found = tuple[sigv4.Credentials, float]  # temporary credentials and their expiry (unix seconds)


@dataclass(eq=False)
class Kept:
    """Temporary credentials by what gave them (a key naming the source and its settings), each kept until a
    minute before it expires; an expiry already that close (none given: 0) keeps nothing."""

    _found: dict[tuple[str, ...], Found] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)  # a role's source fetches inside

    def _fetched(self, key: tuple[str, ...], fetch: Callable[[], Found | None]) -> Found | None:
        with self._lock:
            now = time.time()
            found = self._found.get(key)
            if found is None or now >= found[1] - EXPIRY_MARGIN:
                found = fetch()
                self._found = {k: v for k, v in self._found.items() if now < v[1] - EXPIRY_MARGIN and k != key}
                if found is not None:
                    self._found[key] = found
            return found

    def take(self, key: tuple[str, ...], fetch: Callable[[], Found]) -> sigv4.Credentials:
        """The kept credentials of ``key``, else those ``fetch`` gets (or the DeliveryError it raises)."""
        found = self._fetched(key, fetch)
        assert found is not None  # fetch gives credentials or raises
        return found[0]

    def machine(self, env: Mapping[str, str], only: str = "") -> sigv4.Credentials | None:
        """The container's credentials, else the EC2 instance's (``only`` one of ``container``, ``instance``):
        None where none answers."""
        fetch = {"container": container_credentials, "instance": instance_credentials}.get(
            only, lambda env: container_credentials(env) or instance_credentials(env))
        found = self._fetched(("machine", only), lambda: fetch(env))
        return found[0] if found else None


@dataclass(eq=False)
class CredentialChain:
    """One sns_configs entry's chain: its ``sigv4`` keys and profile, and the temporary credentials found."""

    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    profile: str = ""  # sigv4.profile
    web_identity: WebIdentity = field(default_factory=WebIdentity)
    kept: Kept = field(default_factory=Kept)

    def credentials(self, region: str, http: HttpConfig, timeout: float,
                    env: Mapping[str, str] | None = None) -> sigv4.Credentials:
        """The first credentials of the chain; ``http`` and ``timeout`` are for the requests to STS and the
        SSO portal."""
        if self.access_key:
            return sigv4.Credentials(self.access_key, self.secret_key)
        env = dict(os.environ) if env is None else env
        if not self.profile:
            if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
                return sigv4.Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"],
                                         env.get("AWS_SESSION_TOKEN", ""))
            if env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
                return self.web_identity.credentials(env, region, http, timeout)
        name = self.profile or env.get("AWS_PROFILE") or "default"
        profile, files = load_profile(name, env)
        if profile is not None:
            return _Resolver(self, files, env, region, http, timeout).profile(profile)
        machine = self.kept.machine(env)
        if machine is None:
            raise _none_left(self.profile, name, files)
        return machine


def _none_left(configured: str, name: str, files: SharedFiles) -> DeliveryError:
    keys = "" if configured else "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE and " \
                                 "AWS_ROLE_ARN, or "
    return DeliveryError(f"no AWS credentials: set sigv4.access_key/secret_key, {keys}profile {name!r} in "
                         f"{files.where}; no container credentials endpoint is set and no EC2 instance metadata "
                         f"answered", retryable=False)


@dataclass(frozen=True, slots=True)
class _Resolver:
    """One attempt's walk of a profile tree, as the SDK's ``resolveCredsFromProfile``: the source's
    credentials, then the profile's role assumed with them."""

    chain: CredentialChain
    files: SharedFiles
    env: Mapping[str, str]
    region: str
    http: HttpConfig
    timeout: float

    def profile(self, profile: Profile) -> sigv4.Credentials:
        kept, fips = self.chain.kept, self.chain.web_identity.fips
        if profile.kind == "web_identity_token_file":  # its role is the one assumed with the token
            if not profile.get("role_arn"):  # met again in the chain, which drops its role
                raise DeliveryError(f"profile {profile.name!r}: web_identity_token_file, but role ARN is not set",
                                    retryable=False)
            key = ("web identity", profile.get("web_identity_token_file"), profile.get("role_arn"),
                   profile.get("role_session_name"), sts_endpoint(self.region, self.env, fips))
            return kept.take(key, lambda: assume_role_with_web_identity(
                key[1], key[2], key[3], self.region, self.http, self.timeout, fips,
                f"web_identity_token_file of profile {profile.name!r}"))
        base = self.base(profile)
        role_arn = profile.get("role_arn")
        if not role_arn:
            return base
        session, external_id, duration = profile.get("role_session_name"), profile.get("external_id"), profile.duration
        key = ("role", role_arn, session, external_id, str(duration), sts_endpoint(self.region, self.env, fips),
               base.access_key, base.session_token)
        return kept.take(key, lambda: assume_role(  # the SDK's session name, and 15 minutes unless asked for more
            base, role_arn, self.region, self.http, self.timeout, fips, session or f"aws-go-sdk-{time.time_ns()}",
            external_id, duration or ROLE_SESSION_SECONDS))

    def base(self, profile: Profile) -> sigv4.Credentials:
        """The credentials the profile's role is assumed with, or the profile's own when it has no role."""
        kind, kept, env = profile.kind, self.chain.kept, self.env
        if profile.source is not None:
            return self.profile(profile.source)
        if profile.keys is not None:
            return profile.keys
        if kind == "credential_source":
            return self.credential_source(profile)
        if profile.sso is not None:
            sso = profile.sso
            return kept.take(("sso", sso.cache_key, sso.account_id, sso.role_name, portal_url(sso.region, env)),
                             lambda: sso_credentials(sso, env, self.http, self.timeout))
        if kind == "credential_process":
            command = profile.get("credential_process")
            return kept.take(("process", command), lambda: process_credentials(command, env))
        machine = kept.machine(env)
        if machine is None:
            raise _none_left(self.chain.profile, profile.name, self.files)
        return machine

    def credential_source(self, profile: Profile) -> sigv4.Credentials:
        source, env = profile.get("credential_source"), self.env
        if source == "Environment":
            if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
                return sigv4.Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"],
                                         env.get("AWS_SESSION_TOKEN", ""))
            raise DeliveryError(f"profile {profile.name!r}: credential_source Environment, but AWS_ACCESS_KEY_ID "
                                f"and AWS_SECRET_ACCESS_KEY are not set", retryable=False)
        if source == "EcsContainer":
            if not (env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")):
                raise DeliveryError(f"profile {profile.name!r}: EcsContainer was specified as the credential_source, "
                                    f"but neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor "
                                    f"AWS_CONTAINER_CREDENTIALS_FULL_URI is set", retryable=False)
            found = self.chain.kept.machine(env, "container")
        else:
            found = self.chain.kept.machine(env, "instance")
        if found is None:
            raise DeliveryError(f"profile {profile.name!r}: credential_source {source}, but no "
                                f"{'container credentials' if source == 'EcsContainer' else 'EC2 instance metadata'} "
                                f"answered", retryable=True)
        return found
