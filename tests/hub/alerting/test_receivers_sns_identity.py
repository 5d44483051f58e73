"""SNS with web-identity credentials (receivers.aws_credentials, aws_sts): an OIDC token file, as EKS
mounts a service account's, exchanged at STS for the role's credentials, against real local peers.

``FakeSts`` plays STS's Query API as AWS documents it: ``AssumeRoleWithWebIdentity`` must come unsigned
(no Authorization, no session token) with Action, Version 2011-06-15, RoleArn, RoleSessionName and a
WebIdentityToken it issued, and is answered in XML; ``AssumeRole`` must be signed (SigV4, recomputed with
the secret of the web identity's credentials and their session token). SNS is the FakeSns of
test_receivers_incident, which checks each Publish's signature.
"""

import os
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl

import pytest

from fleetmon.hub.alerting.receivers import DeliveryError, sigv4
from tests.hub.alerting.conftest import Received
from tests.hub.alerting.test_receivers import alert, batch, integration, send
from tests.hub.alerting.test_receivers_incident import FakeSns

ROLE = "arn:aws:iam::123456789012:role/fleet-hub"
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")  # RoleSessionName's pattern and length in the STS API reference


class FakeSts:
    """STS answering with credentials that expire ``lifetime`` from now; ``tokens`` are the web identity
    tokens it takes, ``roles`` the roles they may assume."""

    def __init__(self, sink, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.lifetime = lifetime
        self.tokens = {"token-1"}
        self.roles = {ROLE}
        self.calls: list[dict[str, str]] = []
        sink.answer = self.answer

    @staticmethod
    def error(status: int, code: str, message: str) -> tuple[int, bytes]:
        return status, (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                        f"<Code>{code}</Code><Message>{message}</Message></Error>"
                        f"<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>").encode()

    def _credentials(self, action: str, prefix: str) -> tuple[int, bytes]:
        n = len(self.calls)
        expiry = (datetime.now(timezone.utc) + self.lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 200, (f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result>'
                     f"<SubjectFromWebIdentityToken>system:serviceaccount:monitoring:fleet-hub"
                     f"</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience>"
                     f"<AssumedRoleUser><Arn>{ROLE}/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>"
                     f"<Credentials><SessionToken>{prefix}-session-{n}</SessionToken><SecretAccessKey>{prefix}-secret"
                     f"</SecretAccessKey><Expiration>{expiry}</Expiration><AccessKeyId>ASIA{prefix.upper()}{n}"
                     f"</AccessKeyId></Credentials></{action}Result><ResponseMetadata><RequestId>ad4156e9-bce1-11e2"
                     f"</RequestId></ResponseMetadata></{action}Response>").encode()

    def answer(self, request: Received) -> tuple[int, bytes]:
        params = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        self.calls.append(params)
        if (request.method, request.path) != ("POST", "/") or not request.headers["Content-Type"].startswith(
                "application/x-www-form-urlencoded") or params.get("Version") != "2011-06-15":
            return self.error(400, "InvalidAction", "not a Query API request of version 2011-06-15")
        if params.get("Action") == "AssumeRoleWithWebIdentity":
            return self.web_identity(request, params)
        if params.get("Action") == "AssumeRole":
            return self.assume_role(request, params)
        return self.error(400, "InvalidAction", "unknown action")

    def web_identity(self, request: Received, params: dict[str, str]) -> tuple[int, bytes]:
        if "Authorization" in request.headers or "X-Amz-Security-Token" in request.headers:
            return self.error(400, "InvalidParameterCombination", "AssumeRoleWithWebIdentity is not signed")
        if set(params) - {"Action", "Version", "RoleArn", "RoleSessionName", "WebIdentityToken"} \
                or not SESSION_NAME.fullmatch(params.get("RoleSessionName", "")):
            return self.error(400, "ValidationError", "unexpected or invalid parameters")
        if params.get("WebIdentityToken") not in self.tokens:
            return self.error(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity "
                                                           "provider")
        if params.get("RoleArn") not in self.roles:
            return self.error(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        return self._credentials("AssumeRoleWithWebIdentity", "web")

    def assume_role(self, request: Received, params: dict[str, str]) -> tuple[int, bytes]:
        header = request.headers.get("Authorization", "")
        credential, _, rest = header.removeprefix("AWS4-HMAC-SHA256 Credential=").partition(", ")
        access_key, _, region, service, _ = (credential.split("/") + [""] * 5)[:5]
        names = rest.split(", ")[0].removeprefix("SignedHeaders=").split(";")
        signed = {name: request.headers.get(name, "") for name in names}
        n = access_key.removeprefix("ASIAWEB")
        expected = sigv4.authorization("POST", f"http://{request.headers['Host']}{request.path}", signed,
                                       request.body, sigv4.Credentials(access_key, "web-secret"), region, service,
                                       request.headers.get("X-Amz-Date", ""))
        if expected != header or request.headers.get("X-Amz-Security-Token") != f"web-session-{n}" \
                or "x-amz-security-token" not in names:
            return self.error(403, "SignatureDoesNotMatch", "not signed by the web identity's credentials")
        return self._credentials("AssumeRole", "role")


@pytest.fixture
def web_identity(make_http_sink, monkeypatch, tmp_path):
    """The environment of an EKS pod with a service account role, and no other credentials."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    token = tmp_path / "token"
    token.write_text("token-1")
    sts = make_http_sink()
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url("/"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))  # none: the machine's ~/.aws/config unread
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return token, sts


def keyless_sns(sns_sink, **sigv4_keys) -> object:
    return integration("sns", {"api_url": sns_sink.url("/"), "topic_arn": "arn:aws:sns:eu-west-1:1:fleet",
                               "sigv4": {"region": "eu-west-1", **sigv4_keys}})


def signer(request: Received) -> str:
    return re.search(r"Credential=([^/]+)/", request.headers["Authorization"]).group(1)


def test_the_web_identitys_credentials_sign_publish_and_are_kept_until_near_expiry(web_identity, make_http_sink,
                                                                                    monkeypatch):
    _, sts_sink = web_identity
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "fleet-hub")
    sts, sns = FakeSts(sts_sink), make_http_sink()
    FakeSns(sns, secret="web-secret")
    target = keyless_sns(sns)
    send(target, batch(alert("a")))
    send(target, batch(alert("b")))
    assert sts.calls == [{"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": ROLE,
                          "RoleSessionName": "fleet-hub", "WebIdentityToken": "token-1"}]  # one for both
    assert "Authorization" not in sts_sink.requests[0].headers
    assert [signer(r) for r in sns.requests] == ["ASIAWEB1"] * 2
    assert [r.headers["X-Amz-Security-Token"] for r in sns.requests] == ["web-session-1"] * 2


def test_the_token_file_is_read_again_at_each_renewal(web_identity, make_http_sink):
    token, sts_sink = web_identity
    sts, sns = FakeSts(sts_sink, lifetime=timedelta(seconds=30)), make_http_sink()  # inside the 60 s margin
    FakeSns(sns, secret="web-secret")
    target = keyless_sns(sns)
    send(target, batch(alert("a")))
    token.write_text("token-2\n")  # the kubelet rotated it
    sts.tokens = {"token-2"}  # and the identity provider no longer takes the old one
    send(target, batch(alert("b")))
    assert [call["WebIdentityToken"] for call in sts.calls] == ["token-1", "token-2"]
    assert all(call["RoleSessionName"].isdigit() for call in sts.calls)  # the SDK's name: the time in ns
    assert [r.headers["X-Amz-Security-Token"] for r in sns.requests] == ["web-session-1", "web-session-2"]


def test_sts_refusals_name_their_code_and_a_refused_token_is_tried_again(web_identity, make_http_sink,
                                                                          monkeypatch):
    token, sts_sink = web_identity
    sts, sns = FakeSts(sts_sink), make_http_sink()
    sts.tokens = set()
    with pytest.raises(DeliveryError, match=f"STS AssumeRoleWithWebIdentity of {ROLE} failed: InvalidIdentityToken: "
                                            "Couldn't retrieve verification key") as refused:
        send(keyless_sns(sns), batch(alert("a")))
    assert refused.value.retryable and refused.value.status == 400  # the SDK retries it; the file is read again
    sts.tokens, sts.roles = {"token-1"}, set()
    with pytest.raises(DeliveryError, match="failed: AccessDenied: Not authorized") as refused:
        send(keyless_sns(sns), batch(alert("a")))
    assert (refused.value.retryable, refused.value.status) == (False, 403)
    token.unlink()
    with pytest.raises(DeliveryError, match=f"cannot read AWS_WEB_IDENTITY_TOKEN_FILE {token}") as refused:
        send(keyless_sns(sns), batch(alert("a")))
    assert refused.value.retryable
    monkeypatch.delenv("AWS_ROLE_ARN")
    with pytest.raises(DeliveryError, match="AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN") as refused:
        send(keyless_sns(sns), batch(alert("a")))
    assert not refused.value.retryable and len(sts.calls) == 2 and not sns.requests


def test_role_arn_is_assumed_with_the_web_identitys_credentials(web_identity, make_http_sink):
    _, sts_sink = web_identity
    sts, sns = FakeSts(sts_sink), make_http_sink()
    FakeSns(sns, secret="role-secret")
    send(keyless_sns(sns, role_arn="arn:aws:iam::210987654321:role/alerts", external_id="fleet"), batch(alert("a")))
    assert [call["Action"] for call in sts.calls] == ["AssumeRoleWithWebIdentity", "AssumeRole"]
    assert (sts.calls[1]["RoleArn"], sts.calls[1]["ExternalId"]) == ("arn:aws:iam::210987654321:role/alerts", "fleet")
    assert signer(sts_sink.requests[1]) == "ASIAWEB1"  # FakeSts checked the signature and session token
    assert signer(sns.requests[0]) == "ASIAROLE2"
    assert sns.requests[0].headers["X-Amz-Security-Token"] == "role-session-2"


@pytest.mark.parametrize(("setup", "expected"), [
    # The AWS SDK for Go v2's order: environment keys come before web identity ...
    ({"env": True}, "AKIAENV"),
    # ... web identity before the shared credentials file's default profile ...
    ({"shared": True}, "ASIAWEB1"),
    # ... and a profile the config names before all of the environment.
    ({"shared": True, "env": True, "profile": "alerts"}, "AKIAPROFILE"),
])
def test_web_identity_sits_where_the_aws_sdk_puts_it_in_the_chain(setup, expected, web_identity, make_http_sink,
                                                                   monkeypatch, tmp_path):
    _, sts_sink = web_identity
    FakeSts(sts_sink)
    sns = make_http_sink()
    FakeSns(sns, secret="web-secret")
    if setup.get("env"):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "web-secret")
    if setup.get("shared"):
        (tmp_path / "credentials").write_text("[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = "
                                              "web-secret\n[alerts]\naws_access_key_id = AKIAPROFILE\n"
                                              "aws_secret_access_key = web-secret\n")
    send(keyless_sns(sns, **({"profile": setup["profile"]} if "profile" in setup else {})), batch(alert("a")))
    assert signer(sns.requests[0]) == expected
    assert bool(sts_sink.requests) is (expected == "ASIAWEB1")
