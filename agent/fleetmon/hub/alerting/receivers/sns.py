"""sns_configs: Amazon SNS ``Publish``, signed with SigV4 (receivers.sigv4), as Alertmanager's notifier sends it.

One ``POST`` of the Query API (``Action=Publish&Version=2010-03-31``, form-encoded) to ``api_url`` or
``https://sns.<region>.amazonaws.com/``, to exactly one of ``topic_arn``, ``phone_number`` or
``target_arn``. As in Alertmanager: the message is cut to 256 KiB (1600 bytes for an SMS) and then carries
the attribute ``truncated=true``; a FIFO topic (``.fifo``) gets the SHA-256 of the group key as both its
message group and deduplication id; every ``attributes`` name and value is a template.

Credentials come from receivers.aws_credentials, in the order of the AWS SDK for Go v2's default chain:
``sigv4.access_key``/``secret_key``; ``sigv4.profile``; the ``AWS_ACCESS_KEY_ID`` environment keys; web
identity (``AWS_WEB_IDENTITY_TOKEN_FILE`` and ``AWS_ROLE_ARN``, an STS ``AssumeRoleWithWebIdentity``); the
shared config and credentials files' profile; the container's or EC2 instance's role. The region is
``sigv4.region``, else ``AWS_REGION`` or ``AWS_DEFAULT_REGION``, else the profile's ``region``.

With ``sigv4.role_arn`` those credentials, whichever they are, only sign an STS ``AssumeRole``
(receivers.aws_sts: ``external_id`` as ``ExternalId``, a 15-minute session as the AWS SDK asks by
default), and the role's temporary credentials sign Publish, as Alertmanager chains them. STS requests go
out with the receiver's ``http_config`` (TLS, proxy), at STS's FIPS endpoint with
``sigv4.use_fips_sts_endpoint`` (receivers.aws_sts). Requests are signed for the service ``sigv4.service_name``
(default ``sns``): prometheus/sigv4's key, for an endpoint (``api_url``) that takes another signing name.
"""

import os
import re
from dataclasses import dataclass, field, replace
from typing import ClassVar
from urllib.parse import urlencode, urlsplit

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers import sigv4
from fleetmon.hub.alerting.receivers.aws_credentials import CredentialChain
from fleetmon.hub.alerting.receivers.aws_shared_config import profile_region
from fleetmon.hub.alerting.receivers.aws_sts import AssumedRole, WebIdentity
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.common import render, secret, template
from fleetmon.hub.alerting.receivers.http import HttpConfig, check_url, entry_http_config, post
from fleetmon.hub.alerting.receivers.pagerduty import dedup_key as group_key_hash
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.templates import Field

DEFAULTS = {"subject": '{{ template "sns.default.subject" . }}', "message": '{{ template "sns.default.message" . }}',
            "api_url": "", "topic_arn": "", "phone_number": "", "target_arn": ""}
KEYS = ("sigv4", "attributes", "use_aws_http_client", "send_resolved", "timeout", "http_config", *DEFAULTS)
SIGV4_KEYS = ("region", "access_key", "secret_key", "secret_key_file", "profile", "role_arn", "external_id",
              "use_fips_sts_endpoint", "service_name")
TARGETS = ("topic_arn", "phone_number", "target_arn")
MAX_MESSAGE, MAX_SMS = 256 * 1024, 1600  # bytes
_XML_FIELD = re.compile(r"<(Code|Message)>([^<]*)</\1>")


def endpoint(region: str) -> str:
    return f"https://sns.{region}.amazonaws.com{'.cn' if region.startswith('cn-') else ''}/"


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
    chain: CredentialChain
    http: HttpConfig
    fields: dict[str, Field]  # every key of DEFAULTS
    attributes: list[tuple[Field, Field]] = field(default_factory=list)
    role: AssumedRole | None = None
    service: str = "sns"  # the signing name of the credential scope: sigv4.service_name

    def credentials(self) -> sigv4.Credentials:
        """The credentials that sign Publish: the role's when ``role_arn`` is set, else the chain's."""
        base = self.chain.credentials(self.region, self.http, self.timeout)
        if self.role is None:
            return base
        return self.role.credentials(base, self.region, self.http, self.timeout)

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
                                       self.region, self.service)
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
    fips = auth.child("use_fips_sts_endpoint").boolean(False)
    service = auth.child("service_name").string()
    region = auth.child("region").string() or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") \
        or profile_region(auth.child("profile").string(), os.environ)
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
    return Sns(**integration_fields(node, setup, send_resolved=True), region=region,
               chain=CredentialChain(access_key, secret_key, auth.child("profile").string(), WebIdentity(fips)),
               http=replace(http_config, authorization="", oauth2=None),  # SigV4 is the Authorization header
               role=AssumedRole(role_arn, external_id, fips) if role_arn else None, service=service or "sns",
               fields={key: template(node.child(key), templates, default) for key, default in DEFAULTS.items()},
               attributes=[(template(Node(name, attributes.path, attributes.errors), templates),
                            template(value, templates)) for name, value in attributes.items()])
