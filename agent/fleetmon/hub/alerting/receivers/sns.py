"""sns_configs: Amazon SNS ``Publish``, signed with SigV4 (receivers.sigv4), as Alertmanager's notifier sends it.

One ``POST`` of the Query API (``Action=Publish&Version=2010-03-31``, form-encoded) to ``api_url`` or
``https://sns.<region>.amazonaws.com/``, to exactly one of ``topic_arn``, ``phone_number`` or
``target_arn``. As in Alertmanager: the message is cut to 256 KiB (1600 bytes for an SMS) and then carries
the attribute ``truncated=true``; a FIFO topic (``.fifo``) gets the SHA-256 of the group key as both its
message group and deduplication id; every ``attributes`` name and value is a template.

Credentials, in order: ``sigv4.access_key``/``secret_key``; the ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``) environment variables; the shared credentials file
(``AWS_SHARED_CREDENTIALS_FILE`` or ``~/.aws/credentials``), section ``sigv4.profile``, ``AWS_PROFILE`` or
``default``; then, as the AWS SDK's default chain, the container credentials endpoint
(``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` on ECS, or ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` with
``AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)``) and the EC2 instance metadata service (IMDSv2, at
``AWS_EC2_METADATA_SERVICE_ENDPOINT`` or 169.254.169.254; ``AWS_EC2_METADATA_DISABLED=true`` skips it).
Keys and files are read at each attempt, so rotated keys are picked up; the temporary credentials of a
container or instance are kept until a minute before they expire. The region is ``sigv4.region``, else
``AWS_REGION`` or ``AWS_DEFAULT_REGION``.

With ``sigv4.role_arn`` those credentials only sign an STS ``AssumeRole`` (Query API, version 2011-06-15,
with ``external_id`` as ``ExternalId``, a 15-minute session as the AWS SDK asks by default) to
``https://sts.<region>.amazonaws.com/`` or ``AWS_ENDPOINT_URL_STS`` / ``AWS_ENDPOINT_URL`` (the SDKs'
endpoint variables); the role's temporary credentials sign Publish and are kept until a minute before
they expire. The STS request goes out with the receiver's ``http_config`` (TLS, proxy). Web
identity credentials (an OIDC token file) are not looked up.
"""

import configparser
import ipaddress
import json
import os
import re
import threading
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode, urlsplit

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import sigv4
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import render, secret, template
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.pagerduty import dedup_key as group_key_hash
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.templates import Field

DEFAULTS = {"subject": '{{ template "sns.default.subject" . }}', "message": '{{ template "sns.default.message" . }}',
            "api_url": "", "topic_arn": "", "phone_number": "", "target_arn": ""}
KEYS = ("sigv4", "attributes", "use_aws_http_client", "send_resolved", "timeout", "http_config", *DEFAULTS)
SIGV4_KEYS = ("region", "access_key", "secret_key", "secret_key_file", "profile", "role_arn", "external_id")
TARGETS = ("topic_arn", "phone_number", "target_arn")
MAX_MESSAGE, MAX_SMS = 256 * 1024, 1600  # bytes
_XML_FIELD = re.compile(r"<(Code|Message)>([^<]*)</\1>")
ROLE_SESSION_SECONDS = 900  # the AWS SDK's default AssumeRole duration
ROLE_EXPIRY_MARGIN = 60.0  # seconds before their expiry assumed credentials are renewed
IMDS_ENDPOINT = "http://169.254.169.254"
ECS_ENDPOINT = "http://169.254.170.2"
LOOKUP_TIMEOUT = 1.0  # seconds per metadata request, as the AWS SDKs wait
_CONTAINER_HOSTS = ("169.254.170.2", "169.254.170.23", "fd00:ec2::23")  # ECS and EKS Pod Identity agents


def endpoint(region: str) -> str:
    return f"https://sns.{region}.amazonaws.com{'.cn' if region.startswith('cn-') else ''}/"


def sts_endpoint(region: str) -> str:
    configured = os.environ.get("AWS_ENDPOINT_URL_STS") or os.environ.get("AWS_ENDPOINT_URL")
    return configured or f"https://sts.{region}.amazonaws.com{'.cn' if region.startswith('cn-') else ''}/"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_assume_role(answer: bytes) -> tuple[sigv4.Credentials, float]:
    """The credentials of an AssumeRole answer and their expiry (unix seconds)."""
    try:
        root = ElementTree.fromstring(answer)
    except ElementTree.ParseError as exc:
        raise DeliveryError(f"STS AssumeRole: the answer is not XML: {exc}", retryable=True) from exc
    values = {_local(element.tag): (element.text or "").strip() for element in root.iter()}
    try:
        credentials = sigv4.Credentials(values["AccessKeyId"], values["SecretAccessKey"], values["SessionToken"])
        return credentials, _expiry(values["Expiration"])
    except (KeyError, ValueError) as exc:
        raise DeliveryError("STS AssumeRole: the answer carries no complete credentials", retryable=True) from exc


@dataclass(eq=False)
class AssumedRole:
    """The credentials of ``role_arn``, assumed with the base credentials and cached until near expiry."""

    role_arn: str
    external_id: str = ""
    _credentials: sigv4.Credentials | None = field(default=None, repr=False)
    _expiry: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def credentials(self, base: sigv4.Credentials, region: str, http: HttpConfig, timeout: float
                    ) -> sigv4.Credentials:
        with self._lock:
            if self._credentials is None or time.time() >= self._expiry - ROLE_EXPIRY_MARGIN:
                self._credentials, self._expiry = self._assume(base, region, http, timeout)
            return self._credentials

    def _assume(self, base: sigv4.Credentials, region: str, http: HttpConfig, timeout: float
                ) -> tuple[sigv4.Credentials, float]:
        params = {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": self.role_arn,
                  "RoleSessionName": str(time.time_ns()), "DurationSeconds": str(ROLE_SESSION_SECONDS)}
        if self.external_id:
            params["ExternalId"] = self.external_id
        body = urlencode(params).encode("utf-8")
        url = sts_endpoint(region)
        content_type = "application/x-www-form-urlencoded; charset=utf-8"
        headers = sigv4.signed_headers("POST", url, {"Content-Type": content_type}, body, base, region, "sts")
        try:
            answer = post(url, body, http, timeout, content_type=content_type, headers=headers)
        except DeliveryError as exc:
            fields = dict(_XML_FIELD.findall(str(exc)))
            detail = f"{fields.get('Code', '?')}: {fields.get('Message', '')}" if fields else str(exc)
            raise DeliveryError(f"STS AssumeRole of {self.role_arn} failed: {detail}", retryable=exc.retryable,
                                status=exc.status) from exc
        return parse_assume_role(answer)


def _expiry(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _metadata(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> bytes:
    return post(url, None, HttpConfig(), LOOKUP_TIMEOUT, headers=headers, method=method)


def _from_json(answer: bytes, source: str) -> tuple[sigv4.Credentials, float]:
    try:
        document = json.loads(answer)
        return (sigv4.Credentials(document["AccessKeyId"], document["SecretAccessKey"], document.get("Token", "")),
                _expiry(document["Expiration"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DeliveryError(f"{source}: the answer carries no complete credentials", retryable=True) from exc


def container_credentials(env: dict[str, str]) -> tuple[sigv4.Credentials, float] | None:
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


def instance_credentials(env: dict[str, str]) -> tuple[sigv4.Credentials, float] | None:
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

    def lookup(self, env: dict[str, str]) -> sigv4.Credentials | None:
        with self._lock:
            if self._credentials is None or time.time() >= self._expiry - ROLE_EXPIRY_MARGIN:
                found = container_credentials(env) or instance_credentials(env)
                self._credentials, self._expiry = found if found else (None, 0.0)
            return self._credentials


def cut_bytes(message: str, limit: int) -> tuple[str, bool]:
    """At most ``limit`` bytes of UTF-8, never half a character."""
    data = message.encode("utf-8")
    if len(data) <= limit:
        return message, False
    return data[:limit].decode("utf-8", "ignore"), True


@dataclass(eq=False, kw_only=True)
class Sns(Integration):
    kind: ClassVar[str] = "sns"
    region: str
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    profile: str = ""
    http: HttpConfig
    fields: dict[str, Field]  # every key of DEFAULTS
    attributes: list[tuple[Field, Field]] = field(default_factory=list)
    role: AssumedRole | None = None
    machine: MachineCredentials = field(default_factory=MachineCredentials)

    def credentials(self) -> sigv4.Credentials:
        """The credentials that sign Publish: the role's when ``role_arn`` is set, else the base ones."""
        base = self.base_credentials()
        if self.role is None:
            return base
        return self.role.credentials(base, self.region, self.http, self.timeout)

    def base_credentials(self) -> sigv4.Credentials:
        if self.access_key:
            return sigv4.Credentials(self.access_key, self.secret_key)
        env = os.environ
        if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            return sigv4.Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"],
                                     env.get("AWS_SESSION_TOKEN", ""))
        path = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials")
        profile = self.profile or env.get("AWS_PROFILE") or "default"
        shared = configparser.ConfigParser(interpolation=None)
        try:
            shared.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise DeliveryError(f"cannot read AWS credentials from {path}: {exc}", retryable=False) from exc
        section = shared[profile] if shared.has_section(profile) else {}
        if section.get("aws_access_key_id") and section.get("aws_secret_access_key"):
            return sigv4.Credentials(section["aws_access_key_id"], section["aws_secret_access_key"],
                                     section.get("aws_session_token", ""))
        machine = self.machine.lookup(dict(env))
        if machine is not None:
            return machine
        raise DeliveryError(f"no AWS credentials: set sigv4.access_key/secret_key, AWS_ACCESS_KEY_ID and "
                            f"AWS_SECRET_ACCESS_KEY, or profile {profile!r} in {path}; no container "
                            f"credentials endpoint is set and no EC2 instance metadata answered", retryable=False)

    def publish(self, notification: Notification) -> dict[str, str]:
        """The Publish request's parameters, in the order the AWS SDK writes them."""
        texts = render(self.fields, notification)
        params = {"Action": "Publish", "Version": "2010-03-31"}
        limit = MAX_MESSAGE
        if texts["topic_arn"]:
            params["TopicArn"] = texts["topic_arn"]
            if texts["topic_arn"].endswith(".fifo"):
                params["MessageDeduplicationId"] = params["MessageGroupId"] = group_key_hash(notification.group_key)
        if texts["phone_number"]:
            params["PhoneNumber"] = texts["phone_number"]
            limit = MAX_SMS
        if texts["target_arn"]:
            params["TargetArn"] = texts["target_arn"]
        if not any(texts[key] for key in TARGETS):
            raise DeliveryError("topic_arn, phone_number and target_arn all rendered empty", retryable=False)
        message, truncated = cut_bytes(texts["message"], limit)
        attributes = {render({"name": name}, notification)["name"]: render({"value": value}, notification)["value"]
                      for name, value in self.attributes}
        if truncated:
            attributes["truncated"] = "true"
        params["Message"] = message
        for index, (name, value) in enumerate(sorted(attributes.items()), start=1):
            prefix = f"MessageAttributes.entry.{index}"
            params.update({f"{prefix}.Name": name, f"{prefix}.Value.DataType": "String",
                           f"{prefix}.Value.StringValue": value})
        if texts["subject"]:
            params["Subject"] = texts["subject"]
        return params

    def url(self, notification: Notification) -> str:
        url = render({"api_url": self.fields["api_url"]}, notification)["api_url"] or endpoint(self.region)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DeliveryError("api_url rendered to no absolute http(s) URL", retryable=False)
        return url

    def send(self, notification: Notification) -> None:
        body = urlencode(self.publish(notification)).encode("utf-8")
        url = self.url(notification)
        content_type = "application/x-www-form-urlencoded; charset=utf-8"
        headers = sigv4.signed_headers("POST", url, {"Content-Type": content_type}, body, self.credentials(),
                                       self.region, "sns")
        try:
            post(url, body, self.http, self.timeout, content_type=content_type, headers=headers)
        except DeliveryError as exc:
            fields = dict(_XML_FIELD.findall(str(exc)))
            if not fields:
                raise
            raise DeliveryError(f"SNS refused the message: {fields.get('Code', '?')}: {fields.get('Message', '')}",
                                retryable=exc.retryable, status=exc.status) from exc


def parse(node: Node, setup: IntegrationSetup) -> Sns:
    node = node.mapping(KEYS)
    auth = node.child("sigv4").mapping(SIGV4_KEYS)
    role_arn, external_id = auth.child("role_arn").string(), auth.child("external_id").string()
    if external_id and not role_arn:
        auth.child("external_id").fail("needs role_arn")
    access_key, secret_key = auth.child("access_key").string(), secret(auth, "secret_key")
    if bool(access_key) != bool(secret_key):
        auth.fail("set both access_key and secret_key, or neither")
    region = auth.child("region").string() or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
    if not region:
        auth.child("region").fail("required (or the AWS_REGION environment variable)")
    targets = [key for key in TARGETS if node.child(key).string()]
    if len(targets) != 1:
        node.fail("set exactly one of topic_arn, phone_number, target_arn" + (f" (got {', '.join(targets)})"
                                                                              if targets else ""))
    api_url = node.child("api_url").string()
    if api_url and "{{" not in api_url:
        check_url(node.child("api_url"), api_url)
    node.child("use_aws_http_client").boolean(False)  # Go's choice of HTTP client; the hub has one
    templates = setup.templates
    attributes = node.child("attributes")
    http_config = entry_http_config(node, setup.glob.http_config)
    return Sns(**integration_fields(node, setup, send_resolved=True), region=region, access_key=access_key,
               secret_key=secret_key, profile=auth.child("profile").string(),
               http=replace(http_config, authorization="", oauth2=None),  # SigV4 is the Authorization header
               role=AssumedRole(role_arn, external_id) if role_arn else None,
               fields={key: template(node.child(key), templates, default) for key, default in DEFAULTS.items()},
               attributes=[(template(Node(name, attributes.path, attributes.errors), templates),
                            template(value, templates)) for name, value in attributes.items()])
