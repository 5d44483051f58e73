"""SNS with credentials from the AWS SDK's shared config file (receivers.aws_shared_config, aws_credentials,
aws_credential_process, aws_sso), against real local peers, the files and ``HOME`` in a temporary folder.

``Sts`` plays STS's Query API: ``AssumeRole`` must be signed (SigV4, recomputed) by credentials it knows,
the static keys of the test or those it issued, with their session token; ``AssumeRoleWithWebIdentity``
must come unsigned with the token it takes. Each answer issues ``ASIAROLE<n>`` / ``role-secret-<n>``.
``SsoPortal`` plays the SSO portal's GetRoleCredentials as the SSO API reference gives it (``GET
/federation/credentials?account_id=&role_name=``, header ``x-amz-sso_bearer_token``, a JSON answer with
the expiration in epoch milliseconds). SNS is the FakeSns of test_receivers_incident, which checks each
Publish's signature with the secret the chain must end in.
"""

import hashlib
import json
import os
import re
import sys
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest

from fleetmon.hub.alerting.receivers import DeliveryError, aws_credential_process, sigv4
from tests.hub.alerting.conftest import Received
from tests.hub.alerting.test_receivers import alert, batch, integration, send
from tests.hub.alerting.test_receivers_incident import FakeSns
from tests.hub.alerting.test_receivers_sns_identity import FakeSts, signer
from tests.hub.alerting.test_receivers_transport import temporary

HOP = "arn:aws:iam::111111111111:role/hop"
ALERTS = "arn:aws:iam::222222222222:role/alerts"
EXPIRES = "%Y-%m-%dT%H:%M:%SZ"


class Sts:
    def __init__(self, sink, known: dict[str, str] | None = None) -> None:
        self.known = {key: (secret, "") for key, secret in (known or {}).items()}  # key: (secret, session token)
        self.calls: list[dict[str, str]] = []
        self.signers: list[str] = []
        sink.answer = self.answer

    def answer(self, request: Received) -> tuple[int, bytes]:
        params = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        self.calls.append(params)
        if params.get("Action") == "AssumeRoleWithWebIdentity":
            if "Authorization" in request.headers or params.get("WebIdentityToken") != "oidc-token":
                return FakeSts.error(400, "InvalidIdentityToken", "unsigned, with the token it issued")
            self.signers.append("")
            return self.issue("AssumeRoleWithWebIdentity")
        header = request.headers.get("Authorization", "")
        credential, _, rest = header.removeprefix("AWS4-HMAC-SHA256 Credential=").partition(", ")
        access_key, _, region, service, _ = (credential.split("/") + [""] * 5)[:5]
        secret, token = self.known.get(access_key, ("", ""))
        names = rest.split(", ")[0].removeprefix("SignedHeaders=").split(";")
        expected = sigv4.authorization("POST", f"http://{request.headers['Host']}{request.path}",
                                       {name: request.headers.get(name, "") for name in names}, request.body,
                                       sigv4.Credentials(access_key, secret), region, service,
                                       request.headers.get("X-Amz-Date", ""))
        if params.get("Action") != "AssumeRole" or not secret or expected != header or service != "sts" \
                or request.headers.get("X-Amz-Security-Token", "") != token:
            return FakeSts.error(403, "SignatureDoesNotMatch", "not signed by credentials STS knows")
        self.signers.append(access_key)
        return self.issue("AssumeRole")

    def issue(self, action: str) -> tuple[int, bytes]:
        n = len(self.calls)
        key, secret, token = f"ASIAROLE{n}", f"role-secret-{n}", f"role-session-{n}"
        self.known[key] = (secret, token)
        expiry = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime(EXPIRES)
        return 200, (f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result>'
                     f"<Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
                     f"<SessionToken>{token}</SessionToken><Expiration>{expiry}</Expiration></Credentials>"
                     f"</{action}Result></{action}Response>").encode()


class SsoPortal:
    def __init__(self, sink, token: str = "sso-access-token") -> None:
        self.token = token
        self.calls: list[dict[str, str]] = []
        sink.answer = self.answer

    def answer(self, request: Received) -> tuple[int, bytes]:
        parts = urlsplit(request.path)
        query = dict(parse_qsl(parts.query))
        self.calls.append(query)
        if (request.method, parts.path) != ("GET", "/federation/credentials"):
            return 404, b'{"message": "not found"}'
        if request.headers.get("x-amz-sso_bearer_token") != self.token:
            return 401, b'{"message": "Session token not found or invalid"}'
        if query != {"account_id": "123456789012", "role_name": "FleetAlerts"}:
            return 403, b'{"message": "No access"}'
        expiration = int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp() * 1000)
        return 200, json.dumps({"roleCredentials": {"accessKeyId": "ASIASSO", "secretAccessKey": "sso-secret",
                                                    "sessionToken": "sso-session", "expiration": expiration}}).encode()


@pytest.fixture
def aws(make_http_sink, monkeypatch, tmp_path):
    """No AWS setting but the files, HOME and the endpoints of the stand-ins, all under tmp_path."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    files = SimpleNamespace(home=tmp_path, config=tmp_path / "config", credentials=tmp_path / "credentials",
                            sts=make_http_sink(), sso=make_http_sink(), sns=make_http_sink())
    monkeypatch.setenv("AWS_CONFIG_FILE", str(files.config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(files.credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", files.sts.url("/"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", files.sso.url(""))
    return files


def sns_target(aws, **sigv4_keys) -> object:
    return integration("sns", {"api_url": aws.sns.url("/"), "topic_arn": "arn:aws:sns:eu-west-1:1:fleet",
                               "sigv4": {"region": "eu-west-1", **sigv4_keys}})


def keys(name: str, secret: str = "file-secret") -> str:
    return f"aws_access_key_id = {name}\naws_secret_access_key = {secret}\n"


@pytest.mark.parametrize(("config", "credentials", "setup", "expected"), [
    # A profile of the config file is [profile NAME]; comments after a space and keys the hub does not use
    # (endpoint_url, a services section) are ignored.
    (f"[profile alerts]\n{keys('AKIACONFIG # rotated in May')}endpoint_url = http://127.0.0.1:9\n"
     "services = local\n[services local]\nsns =\n  endpoint_url = http://127.0.0.1:9\n", "",
     {"profile": "alerts"}, "AKIACONFIG"),
    # The same profile in both files: the credentials file's keys win, as the SDK merges them.
    (f"[profile alerts]\n{keys('AKIACONFIG')}", f"[alerts]\n{keys('AKIACREDS')}", {"profile": "alerts"}, "AKIACREDS"),
    # [profile default] wins over [default], whatever their order.
    (f"[profile default]\n{keys('AKIAPREFIXED')}[default]\n{keys('AKIAPLAIN')}", "", {}, "AKIAPREFIXED"),
    # AWS_PROFILE names the profile, but the environment's keys still come first (the SDK's order) ...
    (f"[profile alerts]\n{keys('AKIACONFIG')}", "", {"AWS_PROFILE": "alerts"}, "AKIACONFIG"),
    ("[profile alerts]\n" + keys("AKIACONFIG"), "", {"AWS_PROFILE": "alerts", "AWS_ACCESS_KEY_ID": "AKIAENV",
                                                     "AWS_SECRET_ACCESS_KEY": "file-secret"}, "AKIAENV"),
    # ... and a config file section without the prefix is no profile at all.
    (f"[alerts]\n{keys('AKIAIGNORED')}", "", {"profile": "alerts"}, None),
])
def test_keys_of_the_config_file_and_the_credentials_file_are_merged_as_the_sdk_merges_them(
        config, credentials, setup, expected, aws, monkeypatch):
    aws.config.write_text(config)
    aws.credentials.write_text(credentials)
    for name, value in setup.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    FakeSns(aws.sns, secret="file-secret")
    target = sns_target(aws, **({"profile": setup["profile"]} if "profile" in setup else {}))
    if expected is None:
        with pytest.raises(DeliveryError, match=f"no AWS credentials: .* profile 'alerts' in {aws.config} or "):
            send(target, batch(alert("a")))
        assert not aws.sns.requests
    else:
        send(target, batch(alert("a")))
        assert signer(aws.sns.requests[0]) == expected


def test_role_arn_chains_through_source_profiles_each_signed_by_the_credentials_before_it(aws):
    aws.config.write_text(f"[profile alerts]\nrole_arn = {ALERTS}\nsource_profile = hop\n"
                          f"role_session_name = fleet-hub\nexternal_id = fleet-ext\nduration_seconds = 3600\n\n"
                          f"[profile hop]\nrole_arn = {HOP}\nsource_profile = base\n")
    aws.credentials.write_text(f"[base]\n{keys('AKIABASE', 'base-secret')}")
    sts = Sts(aws.sts, {"AKIABASE": "base-secret"})
    FakeSns(aws.sns, secret="role-secret-2")
    target = sns_target(aws, profile="alerts")
    send(target, batch(alert("a")))
    send(target, batch(alert("b")))
    first, second = sts.calls  # both roles kept for the second send
    assert re.fullmatch(r"aws-go-sdk-\d+", first.pop("RoleSessionName"))  # the SDK's name for an unnamed session
    assert first == {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": HOP, "DurationSeconds": "900"}
    assert second == {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": ALERTS,
                      "RoleSessionName": "fleet-hub", "DurationSeconds": "3600", "ExternalId": "fleet-ext"}
    assert sts.signers == ["AKIABASE", "ASIAROLE1"]  # the hop's role signs the second AssumeRole
    assert [signer(r) for r in aws.sns.requests] == ["ASIAROLE2"] * 2
    assert [r.headers["X-Amz-Security-Token"] for r in aws.sns.requests] == ["role-session-2"] * 2


def test_a_profile_may_be_its_own_source_and_a_duration_under_16_minutes_is_the_sdks_default(aws):
    aws.config.write_text(f"[profile self]\nrole_arn = {HOP}\nsource_profile = self\nduration_seconds = 959\n")
    aws.credentials.write_text(f"[self]\n{keys('AKIASELF', 'self-secret')}")
    sts = Sts(aws.sts, {"AKIASELF": "self-secret"})
    FakeSns(aws.sns, secret="role-secret-1")
    send(sns_target(aws, profile="self"), batch(alert("a")))
    assert sts.signers == ["AKIASELF"] and sts.calls[0]["DurationSeconds"] == "900"
    assert signer(aws.sns.requests[0]) == "ASIAROLE1"


@pytest.mark.parametrize(("config", "credentials", "message"), [
    (f"[profile a]\nrole_arn = {ALERTS}\nsource_profile = b\n[profile b]\nrole_arn = {HOP}\nsource_profile = a\n", "",
     "profile 'b': source_profile 'a' has no credentials \\(a source_profile loop"),
    (f"[profile a]\nrole_arn = {ALERTS}\nsource_profile = nowhere\n", "",
     "profile 'a': source_profile 'nowhere' is in neither"),
    ("[profile a]\nsource_profile = b\n", f"[b]\n{keys('AKIAB')}", "profile 'a': source_profile requires role_arn"),
    (f"[profile a]\nrole_arn = {ALERTS}\ncredential_source = Environment\ncredential_process = true\n", "",
     "profile 'a': only one credential type may be specified per profile"),
    (f"[profile a]\nrole_arn = {ALERTS}\ncredential_source = Ec2Metadata\n", "",
     "profile 'a': credential_source values must be EcsContainer, Ec2InstanceMetadata, or Environment"),
    (f"[profile a]\nrole_arn = {ALERTS}\nsource_profile = b\n[profile b]\nrole_arn = {HOP}\n"
     f"mfa_serial = arn:aws:iam::1:mfa/ops\nsource_profile = c\n", f"[c]\n{keys('AKIAC')}",
     "profile 'b': role_arn with mfa_serial needs an MFA code typed at a prompt"),
    ("[profile a]\nsso_start_url = https://corp.awsapps.com/start\n", "",
     "profile 'a' is configured to use SSO but is missing required configuration: sso_region, sso_account_id, "
     "sso_role_name"),
    ("[profile a]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n", "", "no \\[sso-session corp\\]"),
    ("", "[a]\naws_access_key_id = AKIAHALF\n", "profile 'a' in .*: partial credentials"),
])
def test_profiles_the_sdk_refuses_fail_before_any_request_saying_why(config, credentials, message, aws):
    aws.config.write_text(config)
    aws.credentials.write_text(credentials)
    with pytest.raises(DeliveryError, match=message) as refused:
        send(sns_target(aws, profile="a"), batch(alert("a")))
    assert not refused.value.retryable
    assert not (aws.sts.requests or aws.sso.requests or aws.sns.requests)


def test_credential_source_lends_the_environments_or_the_instances_credentials_to_the_role(aws, monkeypatch,
                                                                                          make_http_sink):
    aws.config.write_text(f"[profile env]\nrole_arn = {HOP}\ncredential_source = Environment\n"
                          f"[profile ec2]\nrole_arn = {ALERTS}\ncredential_source = Ec2InstanceMetadata\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    imds = make_http_sink()

    def metadata(request: Received) -> tuple[int, bytes]:
        if request.method == "PUT" and request.path == "/latest/api/token":
            return 200, b"imds-token"
        if request.headers.get("X-aws-ec2-metadata-token") != "imds-token":
            return 401, b""
        if request.path == "/latest/meta-data/iam/security-credentials/":
            return 200, b"fleet-hub-role\n"
        return 200, temporary("ASIAINSTANCE", "instance-session")

    imds.answer = metadata
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url(""))
    sts = Sts(aws.sts, {"AKIAENV": "env-secret"})
    sts.known["ASIAINSTANCE"] = ("machine-secret", "instance-session")
    FakeSns(aws.sns, secret="role-secret-1")
    send(sns_target(aws, profile="env"), batch(alert("a")))  # the profile's role, not the environment's keys
    FakeSns(aws.sns, secret="role-secret-2")
    send(sns_target(aws, profile="ec2"), batch(alert("b")))
    assert sts.signers == ["AKIAENV", "ASIAINSTANCE"]
    assert [c["RoleArn"] for c in sts.calls] == [HOP, ALERTS]
    assert [signer(r) for r in aws.sns.requests] == ["ASIAROLE1", "ASIAROLE2"]


def test_a_profiles_web_identity_token_file_is_exchanged_unsigned_for_its_role(aws):
    token = aws.home / "token"
    token.write_text("oidc-token\n")
    aws.config.write_text(f"[default]\nrole_arn = {ALERTS}\nweb_identity_token_file = {token}\n"
                          f"role_session_name = fleet-hub\n")
    sts = Sts(aws.sts)
    FakeSns(aws.sns, secret="role-secret-1")
    send(sns_target(aws), batch(alert("a")))
    assert sts.calls == [{"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": ALERTS,
                          "RoleSessionName": "fleet-hub", "WebIdentityToken": "oidc-token"}]
    assert "Authorization" not in aws.sts.requests[0].headers
    assert signer(aws.sns.requests[0]) == "ASIAROLE1"


PROCESS = """import json, sys
from datetime import datetime, timedelta, timezone
with open(sys.argv[1], "a") as runs:
    runs.write("run\\n")
document = {"Version": 1, "AccessKeyId": "ASIAPROCESS", "SecretAccessKey": "process-secret",
            "SessionToken": "process-session"}
mode = sys.argv[2]
if mode == "expiring":
    document["Expiration"] = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
elif mode == "v2":
    document["Version"] = 2
elif mode == "no-secret":
    del document["SecretAccessKey"]
elif mode == "not-json":
    document = "AccessKeyId=ASIAPROCESS"
elif mode == "fail":
    sys.exit(3)
print(json.dumps(document) if mode != "not-json" else document)
"""


def process_profile(aws, mode: str) -> str:
    script = aws.home / "credentials.py"
    script.write_text(PROCESS)
    aws.config.write_text(f'[profile tool]\ncredential_process = "{sys.executable}" "{script}" "$HOME/runs" {mode}\n')
    return "tool"


@pytest.mark.parametrize(("mode", "runs"), [("expiring", 1), ("lasting", 2)])
def test_credential_process_runs_through_the_shell_and_is_kept_only_until_near_its_expiration(mode, runs, aws):
    FakeSns(aws.sns, secret="process-secret")
    target = sns_target(aws, profile=process_profile(aws, mode))
    send(target, batch(alert("a")))
    send(target, batch(alert("b")))
    # $HOME was expanded by the shell, in the hub's environment; without Expiration it runs at each attempt.
    assert (aws.home / "runs").read_text() == "run\n" * runs
    assert [r.headers["X-Amz-Security-Token"] for r in aws.sns.requests] == ["process-session"] * 2
    assert [signer(r) for r in aws.sns.requests] == ["ASIAPROCESS"] * 2


@pytest.mark.parametrize(("mode", "message", "retryable"), [
    ("fail", "error in credential_process: exit status 3", True),
    ("v2", "wrong version in process output \\(not 1\\)", False),
    ("no-secret", "missing SecretAccessKey in process output", False),
    ("not-json", "its output is not JSON", True),
])
def test_credential_process_failures_say_why(mode, message, retryable, aws):
    with pytest.raises(DeliveryError, match=message) as refused:
        send(sns_target(aws, profile=process_profile(aws, mode)), batch(alert("a")))
    assert refused.value.retryable is retryable and not aws.sns.requests
    assert "process-secret" not in str(refused.value)


def test_a_credential_process_past_its_timeout_is_killed(aws, monkeypatch):
    monkeypatch.setattr(aws_credential_process, "TIMEOUT", 0.5)
    aws.config.write_text(f"[default]\ncredential_process = echo $$ > {aws.home}/pid; exec sleep 30\n")
    with pytest.raises(DeliveryError, match=r"credential_process timed out after 0\.5 s") as refused:
        send(sns_target(aws), batch(alert("a")))
    assert refused.value.retryable
    pid = int((aws.home / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped before the attempt failed


def cache_token(aws, key: str, token: str = "sso-access-token", expires: timedelta = timedelta(hours=1)) -> None:
    path = aws.home / ".aws" / "sso" / "cache" / f"{hashlib.sha1(key.encode()).hexdigest()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"startUrl": "https://corp.awsapps.com/start", "region": "eu-central-1",
                                "accessToken": token,
                                "expiresAt": (datetime.now(timezone.utc) + expires).strftime(EXPIRES)}))


SSO_SESSION = ("[profile alerts]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = FleetAlerts\n"
               "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-central-1\n"
               "sso_registration_scopes = sso:account:access\n")
SSO_LEGACY = ("[profile alerts]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-central-1\n"
              "sso_account_id = 123456789012\nsso_role_name = FleetAlerts\n")


@pytest.mark.parametrize(("config", "cache_key"), [(SSO_SESSION, "corp"), (SSO_LEGACY, "https://corp.awsapps.com/start")])
def test_sso_profiles_get_the_roles_credentials_from_the_portal_with_the_cached_token(config, cache_key, aws):
    aws.config.write_text(config)
    cache_token(aws, cache_key)
    portal = SsoPortal(aws.sso)
    FakeSns(aws.sns, secret="sso-secret")
    target = sns_target(aws, profile="alerts")
    send(target, batch(alert("a")))
    send(target, batch(alert("b")))
    assert portal.calls == [{"account_id": "123456789012", "role_name": "FleetAlerts"}]  # kept for the second
    assert aws.sso.requests[0].method == "GET" and "Authorization" not in aws.sso.requests[0].headers
    assert [signer(r) for r in aws.sns.requests] == ["ASIASSO"] * 2
    assert [r.headers["X-Amz-Security-Token"] for r in aws.sns.requests] == ["sso-session"] * 2


def test_a_missing_expired_or_refused_sso_token_says_to_run_aws_sso_login(aws):
    aws.config.write_text(SSO_SESSION)
    SsoPortal(aws.sso)
    target = sns_target(aws, profile="alerts")
    with pytest.raises(DeliveryError, match=r"no SSO token cached at .*: run `aws sso login --sso-session corp`"):
        send(target, batch(alert("a")))
    cache_token(aws, "corp", expires=-timedelta(minutes=1))
    with pytest.raises(DeliveryError, match=r"expired at .*: run `aws sso login --sso-session corp` \(the hub does "
                                            r"not refresh SSO tokens\)") as expired:
        send(target, batch(alert("a")))
    assert expired.value.retryable and not aws.sso.requests  # a login meanwhile lets a later attempt through
    cache_token(aws, "corp", token="revoked-token")
    with pytest.raises(DeliveryError, match=r"HTTP 401.*the portal refused the cached token, run `aws sso login") \
            as refused:
        send(target, batch(alert("a")))
    assert (refused.value.retryable, refused.value.status) == (False, 401) and not aws.sns.requests


def test_the_region_is_the_profiles_when_neither_sigv4_nor_the_environment_names_one(aws, monkeypatch):
    aws.config.write_text(f"[profile alerts]\nregion = ap-south-1\n{keys('AKIACONFIG')}")
    (aws.home / ".aws").mkdir()
    (aws.home / ".aws" / "config").write_text(f"[default]\nregion = sa-east-1\n{keys('AKIAHOME')}")
    FakeSns(aws.sns, secret="file-secret")
    config = {"api_url": aws.sns.url("/"), "topic_arn": "arn:aws:sns:ap-south-1:1:fleet"}
    target = integration("sns", {**config, "sigv4": {"profile": "alerts"}})
    assert target.region == "ap-south-1"
    send(target, batch(alert("a")))
    assert "/ap-south-1/sns/aws4_request" in aws.sns.requests[0].headers["Authorization"]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-2")
    assert integration("sns", {**config, "sigv4": {"profile": "alerts"}}).region == "us-east-2"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_CONFIG_FILE")  # then ~/.aws/config, and its default profile
    target = integration("sns", config)
    send(target, batch(alert("b")))
    assert target.region == "sa-east-1" and signer(aws.sns.requests[1]) == "AKIAHOME"
