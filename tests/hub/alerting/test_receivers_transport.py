"""The transport keys every HTTP receiver shares (``http_config``'s proxy keys and ``oauth2``), incident.io,
and SNS through an assumed role, against real local peers.

``ForwardProxy`` is a real HTTP proxy (threaded; absolute-form requests forwarded, CONNECT tunnelled) that
records what it was asked and resolves the made-up names ``*.test`` to the loopback address, so a request
to ``receiver.test`` can only arrive through it. The OAuth 2.0 token endpoint, the receivers that require
its token, incident.io and STS are HttpSinks playing those services.
"""

import base64
import json
import select
import socket
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote_plus

import pytest

from fleetmon.config_reader import ConfigError
from fleetmon.hub.alerting.receivers import DeliveryError, sigv4
from fleetmon.hub.alerting.receivers.incidentio import MAX_PAYLOAD
from fleetmon.hub.alerting.receivers.proxy import ProxySettings, proxy_for
from tests.hub.alerting.conftest import Received
from tests.hub.alerting.test_receivers import alert, batch, config_errors, integration, send
from tests.hub.alerting.test_receivers_incident import FakeSns


class ForwardProxy:
    """An HTTP/1.1 forward proxy on a free loopback port. ``seen`` holds (method, target, headers) of every
    request it was sent; with ``credentials`` it answers 407 to requests without that Proxy-Authorization."""

    def __init__(self, credentials: str = "") -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.credentials = credentials
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _admitted(self) -> bool:
                proxy.seen.append((self.command, self.path, dict(self.headers.items())))
                wanted = "Basic " + base64.b64encode(proxy.credentials.encode()).decode() if proxy.credentials else ""
                if wanted and self.headers.get("Proxy-Authorization") != wanted:
                    self.send_response(407)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    return False
                return True

            def do_CONNECT(self) -> None:
                if not self._admitted():
                    return
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((proxy.resolve(host), int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                sockets = [self.connection, upstream]
                while True:
                    readable, _, _ = select.select(sockets, [], [], 10)
                    if not readable:
                        break
                    ends = False
                    for source in readable:
                        data = source.recv(65536)
                        if not data:
                            ends = True
                            break
                        (upstream if source is self.connection else self.connection).sendall(data)
                    if ends:
                        break
                upstream.close()
                self.close_connection = True

            def do_POST(self) -> None:
                if not self._admitted():
                    return
                assert self.path.startswith("http://"), "a proxy is sent absolute-form targets"
                netloc, _, path = self.path.removeprefix("http://").partition("/")
                host, _, port = netloc.rpartition(":")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items()
                                  if name.lower() not in ("proxy-authorization", "connection"))
                with socket.create_connection((proxy.resolve(host), int(port or 80)), timeout=10) as upstream:
                    upstream.sendall(f"{self.command} /{path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode()
                                     + body)
                    answer = b""
                    while chunk := upstream.recv(65536):
                        answer += chunk
                self.wfile.write(answer)
                self.close_connection = True

            do_GET = do_PUT = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @staticmethod
    def resolve(host: str) -> str:
        return "127.0.0.1" if host.endswith(".test") else host

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def forward_proxy():
    proxy = ForwardProxy(credentials="fleet:pr0xy pass")
    yield proxy
    proxy.close()


def webhook(url: str, **http_config) -> object:
    return integration("webhook", {"url": url, "http_config": http_config})


# --- proxy ------------------------------------------------------------------------------------------------

def test_an_http_target_is_asked_for_in_absolute_form_through_the_proxy_with_its_credentials(http_sink,
                                                                                            forward_proxy):
    target = webhook(f"http://receiver.test:{http_sink.port}/hook?x=1",
                     proxy_url=forward_proxy.url("fleet:pr0xy%20pass"))
    send(target, batch(alert("a")))
    method, path, headers = forward_proxy.seen[0]
    assert (method, path) == ("POST", f"http://receiver.test:{http_sink.port}/hook?x=1")
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"fleet:pr0xy pass").decode()
    assert http_sink.requests[0].path == "/hook?x=1"
    assert http_sink.requests[0].json()["alerts"][0]["labels"]["host"] == "a"


def test_an_https_target_is_tunnelled_with_connect_and_tls_runs_to_the_receiver(make_http_sink, certificate,
                                                                                forward_proxy):
    sink = make_http_sink(certificate)
    target = webhook(f"https://receiver.test:{sink.port}/hook", proxy_url=forward_proxy.url("fleet:pr0xy%20pass"),
                     proxy_connect_header={"X-Tenant": ["fleet", "edge"]},
                     tls_config={"ca_file": str(certificate.cert), "server_name": "localhost"})
    send(target, batch(alert("a")))
    method, path, headers = forward_proxy.seen[0]
    assert (method, path) == ("CONNECT", f"receiver.test:{sink.port}")
    assert headers["X-Tenant"] == "fleet, edge"
    assert headers["Proxy-Authorization"].startswith("Basic ")
    assert sink.requests[0].path == "/hook" and "Proxy-Authorization" not in sink.requests[0].headers
    assert sink.requests[0].headers["Host"] == f"receiver.test:{sink.port}"


def test_a_proxy_refusing_the_credentials_fails_the_attempt(http_sink, forward_proxy):
    target = webhook(f"http://receiver.test:{http_sink.port}/hook", proxy_url=forward_proxy.url("fleet:wrong"))
    with pytest.raises(DeliveryError, match="HTTP 407") as refused:
        send(target, batch(alert("a")))
    assert not refused.value.retryable and not http_sink.requests


def test_no_proxy_and_loopback_targets_go_straight_to_the_receiver(http_sink, forward_proxy):
    target = webhook(http_sink.url(), proxy_url=forward_proxy.url(), no_proxy="example.com")
    send(target, batch(alert("a")))
    assert http_sink.requests and not forward_proxy.seen  # 127.0.0.1 is never proxied once no_proxy is set
    through = webhook(f"http://receiver.test:{http_sink.port}/hook", proxy_url=forward_proxy.url("fleet:pr0xy%20pass"),
                      no_proxy="example.com,10.0.0.0/8")
    send(through, batch(alert("b")))
    assert [path for _, path, _ in forward_proxy.seen] == [f"http://receiver.test:{http_sink.port}/hook"]


@pytest.mark.parametrize(("url", "no_proxy", "proxied"), [
    ("http://api.example.com/x", "example.com", False),  # a domain covers its subdomains
    ("http://example.com/x", ".example.com", True),  # a leading dot: only the subdomains
    ("http://api.example.com/x", ".example.com", False),
    ("http://notexample.com/x", "example.com", True),  # a suffix is not a subdomain
    ("http://10.1.2.3/x", "10.0.0.0/8", False),  # CIDR
    ("http://10.1.2.3/x", "10.1.2.3", False),
    ("http://host.example:8080/x", "host.example:9090", True),  # an entry with a port matches that port only
    ("http://host.example:9090/x", "host.example:9090", False),
    ("https://anything.example/x", "*", False),
    ("http://localhost:9/x", "example.com", False),  # loopback is never proxied (Go's httpproxy)
    ("http://[::1]:9/x", "example.com", False),
    ("http://hooks.example/x", "", True),  # proxy_url alone proxies everything, loopback included
    ("http://127.0.0.1:9/x", "", True),
])
def test_no_proxy_follows_gos_httpproxy(url, no_proxy, proxied):
    assert (proxy_for(url, ProxySettings("http://proxy.example:3128", no_proxy)) is not None) is proxied


def test_proxy_from_environment_reads_http_proxy_https_proxy_and_no_proxy(http_sink, forward_proxy, monkeypatch):
    settings = ProxySettings(from_environment=True)
    env = {"HTTPS_PROXY": "proxy.example:3128", "no_proxy": "internal.example"}
    assert proxy_for("https://hooks.example/x", settings, env).host == "proxy.example"
    assert proxy_for("http://hooks.example/x", settings, env) is None  # no HTTP_PROXY
    assert proxy_for("https://a.internal.example/x", settings, env) is None
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url("fleet:pr0xy%20pass"))
    monkeypatch.setenv("NO_PROXY", "other.test")
    send(webhook(f"http://receiver.test:{http_sink.port}/hook", proxy_from_environment=True), batch(alert("a")))
    assert forward_proxy.seen[0][1] == f"http://receiver.test:{http_sink.port}/hook" and http_sink.requests


def test_proxy_config_errors_name_their_keys():
    errors = config_errors({"receivers": [{"name": "r", "webhook_configs": [
        {"url": "http://h/", "http_config": {"proxy_url": "http://p:1", "proxy_from_environment": True}},
        {"url": "http://h/", "http_config": {"no_proxy": "a.example", "proxy_connect_header": {"X": ["y"]}}},
        {"url": "http://h/", "http_config": {"proxy_url": "ftp://p:1"}},
        {"url": "http://h/", "http_config": {"basic_auth": {"username": "u"},
                                              "oauth2": {"client_id": "c", "token_url": "http://t/"}}}]}]})
    prefix = "receivers[0].webhook_configs"
    assert f"{prefix}[0].http_config.proxy_url: set proxy_url or proxy_from_environment, not both" in errors
    assert any(e.startswith(f"{prefix}[1].http_config.no_proxy: needs proxy_url") for e in errors)
    assert f"{prefix}[1].http_config.proxy_connect_header: needs proxy_url or proxy_from_environment" in errors
    assert f"{prefix}[2].http_config.proxy_url: must be the http://, https:// or socks5:// URL of a proxy" in errors
    assert any(e.startswith(f"{prefix}[3].http_config: set at most one of") for e in errors), errors


# --- oauth2 -----------------------------------------------------------------------------------------------

class TokenService:
    """An OAuth 2.0 token endpoint (client credentials) and a receiver that takes only its newest token."""

    def __init__(self, token_sink, receiver_sink, expires_in: int = 3600) -> None:
        self.issued = 0
        self.expires_in = expires_in
        self.valid = ""
        token_sink.answer = self.token
        receiver_sink.answer = self.receive

    def token(self, request: Received) -> tuple[int, bytes]:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        client_id, _, client_secret = base64.b64decode(encoded).decode().partition(":")
        if scheme != "Basic" or (unquote_plus(client_id), unquote_plus(client_secret)) != ("hub", "s3cret&=x"):
            return 401, b'{"error": "invalid_client"}'
        form = dict(parse_qsl(request.body.decode()))
        if form != {"grant_type": "client_credentials", "scope": "alerts:write read", "audience": "fleet"}:
            return 400, json.dumps({"error": "invalid_request", "got": form}).encode()
        self.issued += 1
        self.valid = f"token-{self.issued}"
        return 200, json.dumps({"access_token": self.valid, "token_type": "bearer",
                                "expires_in": self.expires_in}).encode()

    def receive(self, request: Received) -> tuple[int, bytes]:
        if request.headers.get("Authorization") != f"Bearer {self.valid}":
            return 401, b'{"error": "invalid_token"}'
        return 200, b"{}"


def oauth2_webhook(receiver_sink, token_sink, tmp_path, **extra) -> object:
    (tmp_path / "secret").write_text("s3cret&=x\n")
    return webhook(receiver_sink.url(), oauth2={
        "client_id": "hub", "client_secret_file": str(tmp_path / "secret"), "token_url": token_sink.url("/token"),
        "scopes": ["alerts:write", "read"], "endpoint_params": {"audience": "fleet"}, **extra})


def test_oauth2_fetches_a_token_once_and_sends_it_as_the_bearer(make_http_sink, tmp_path):
    tokens, receiver = make_http_sink(), make_http_sink()
    service = TokenService(tokens, receiver)
    target = oauth2_webhook(receiver, tokens, tmp_path)
    send(target, batch(alert("a")))
    send(target, batch(alert("b")))
    assert service.issued == 1 and len(tokens.requests) == 1
    assert tokens.requests[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert [r.headers["Authorization"] for r in receiver.requests] == ["Bearer token-1"] * 2


def test_oauth2_token_refused_with_401_is_fetched_again_for_one_more_try(make_http_sink, tmp_path):
    tokens, receiver = make_http_sink(), make_http_sink()
    service = TokenService(tokens, receiver)
    target = oauth2_webhook(receiver, tokens, tmp_path)
    send(target, batch(alert("a")))
    service.valid = "revoked"  # the service dropped token-1
    send(target, batch(alert("b")))
    assert [r.headers["Authorization"] for r in receiver.requests] == ["Bearer token-1", "Bearer token-1",
                                                                       "Bearer token-2"]
    service.valid = "revoked-again"
    receiver.answer = lambda request: (401, b'{"error": "invalid_token"}')
    with pytest.raises(DeliveryError, match="HTTP 401") as refused:
        send(target, batch(alert("c")))
    assert not refused.value.retryable and service.issued == 3  # one new token, one more try, no loop


def test_oauth2_token_is_renewed_10s_before_it_expires(make_http_sink, tmp_path):
    tokens, receiver = make_http_sink(), make_http_sink()
    service = TokenService(tokens, receiver, expires_in=60)
    target = oauth2_webhook(receiver, tokens, tmp_path)
    now = [1000.0]
    target.http.oauth2.clock = lambda: now[0]
    send(target, batch(alert("a")))
    now[0] += 49
    send(target, batch(alert("b")))
    now[0] += 1  # 50 s after issue: within Go's 10 s margin of its 60 s lifetime
    send(target, batch(alert("c")))
    assert service.issued == 2
    assert [r.headers["Authorization"] for r in receiver.requests] == ["Bearer token-1"] * 2 + ["Bearer token-2"]


def test_oauth2_bad_client_secret_fails_without_retry_and_the_token_request_can_use_a_proxy(
        make_http_sink, tmp_path, forward_proxy):
    tokens, receiver = make_http_sink(), make_http_sink()
    TokenService(tokens, receiver)
    target = webhook(receiver.url(), oauth2={"client_id": "hub", "client_secret": "wrong",
                                             "token_url": tokens.url("/token")})
    with pytest.raises(DeliveryError, match=r"oauth2 token request: .*HTTP 401") as refused:
        send(target, batch(alert("a")))
    assert not refused.value.retryable and not receiver.requests
    proxied = oauth2_webhook(receiver, tokens, tmp_path, token_url=f"http://tokens.test:{tokens.port}/token",
                             proxy_url=forward_proxy.url("fleet:pr0xy%20pass"))
    send(proxied, batch(alert("b")))
    assert [path for _, path, _ in forward_proxy.seen] == [f"http://tokens.test:{tokens.port}/token"]
    assert receiver.requests[-1].headers["Authorization"] == "Bearer token-1"


# --- incident.io ------------------------------------------------------------------------------------------

def test_incidentio_posts_alertmanagers_payload_version_1_with_the_alert_source_token(http_sink, tmp_path):
    (tmp_path / "token").write_text("iio-token\n")
    target = integration("incidentio", {"url": http_sink.url("/v2/alert_events/alertmanager/01ABC"),
                                        "alert_source_token_file": str(tmp_path / "token"), "max_alerts": 1})
    send(target, batch(alert("a"), alert("b")))
    request = http_sink.requests[0]
    assert request.headers["Authorization"] == "Bearer iio-token"
    assert request.headers["Content-Type"] == "application/json"
    body = request.json()
    assert list(body) == ["receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations",
                          "externalURL", "version", "groupKey", "truncatedAlerts"]
    assert (body["version"], body["truncatedAlerts"], body["receiver"]) == ("1", 1, "team\\.ops")
    assert [a["labels"]["host"] for a in body["alerts"]] == ["a"]
    assert target.send_resolved


def test_incidentio_over_512_kib_sends_only_the_first_alert_and_retries_429(http_sink):
    target = integration("incidentio", {"url": http_sink.url(), "alert_source_token": "t"})
    big = [alert(f"h{index}") for index in range(3)]
    for item in big:
        item.annotations["description"] = "x" * (MAX_PAYLOAD // 2)
    send(target, batch(*big))
    body = http_sink.requests[0].json()
    assert len(http_sink.requests[0].body) <= MAX_PAYLOAD + 1024
    assert [a["labels"]["host"] for a in body["alerts"]] == ["h0"]
    http_sink.respond(429)
    with pytest.raises(DeliveryError, match="HTTP 429") as limited:
        send(target, batch(alert("a")))
    assert limited.value.retryable


def test_incidentio_http_config_authorization_instead_of_the_token_and_config_errors(http_sink):
    target = integration("incidentio", {"url": http_sink.url(), "http_config": {
        "authorization": {"credentials": "from-http-config"}}})
    send(target, batch(alert("a")))
    assert http_sink.requests[0].headers["Authorization"] == "Bearer from-http-config"
    errors = config_errors({"receivers": [{"name": "r", "incidentio_configs": [
        {"url": "http://h/", "alert_source_token": "t", "http_config": {"authorization": {"credentials": "c"}}},
        {"url_file": "/nonexistent/url", "alert_source_token": "t"}, {"alert_source_token": "t"}]}]})
    prefix = "receivers[0].incidentio_configs"
    assert any(e.startswith(f"{prefix}[0].alert_source_token: set alert_source_token(_file) or ") for e in errors)
    assert any(e.startswith(f"{prefix}[1].url_file: cannot read /nonexistent/url") for e in errors), errors
    assert f"{prefix}[2].url: url or url_file is required" in errors


# --- SNS through an assumed role --------------------------------------------------------------------------

class FakeSts:
    """STS's AssumeRole (Query API): checks the SigV4 signature with the base secret it knows and answers the
    role's temporary credentials in XML, expiring ``lifetime`` from now."""

    def __init__(self, sink, secret: str = "base-secret", lifetime: timedelta = timedelta(hours=1)) -> None:
        self.secret = secret
        self.lifetime = lifetime
        self.assumed: list[dict[str, str]] = []
        sink.answer = self.answer

    def answer(self, request: Received) -> tuple[int, bytes]:
        header = request.headers["Authorization"]
        credential, _, rest = header.removeprefix("AWS4-HMAC-SHA256 Credential=").partition(", ")
        access_key, _, region, service, _ = credential.split("/")
        names = rest.split(", ")[0].removeprefix("SignedHeaders=")
        signed = {name: request.headers[name] for name in names.split(";")}
        expected = sigv4.authorization("POST", f"http://{request.headers['Host']}{request.path}", signed,
                                       request.body, sigv4.Credentials(access_key, self.secret), region, service,
                                       request.headers["X-Amz-Date"])
        if service != "sts" or expected != request.headers["Authorization"]:
            return 403, (b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>bad signature"
                         b"</Message></Error></ErrorResponse>")
        params = dict(parse_qsl(request.body.decode()))
        self.assumed.append(params)
        expiry = (datetime.now(timezone.utc) + self.lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
        n = len(self.assumed)
        return 200, (f'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
                     f"<Credentials><AccessKeyId>ASIAROLE{n}</AccessKeyId><SecretAccessKey>role-secret"
                     f"</SecretAccessKey><SessionToken>session-{n}</SessionToken><Expiration>{expiry}</Expiration>"
                     f"</Credentials></AssumeRoleResult></AssumeRoleResponse>").encode()


def role_sns(sns_sink, sts_sink, monkeypatch) -> object:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_sink.url("/"))
    return integration("sns", {"api_url": sns_sink.url("/"), "topic_arn": "arn:aws:sns:eu-west-1:1:fleet",
                               "sigv4": {"region": "eu-west-1", "access_key": "AKIABASE", "secret_key": "base-secret",
                                         "role_arn": "arn:aws:iam::1:role/alerts", "external_id": "fleet-ext"}})


def test_sns_with_role_arn_publishes_with_the_assumed_roles_credentials_kept_until_expiry(make_http_sink,
                                                                                         monkeypatch):
    sns, sts = make_http_sink(), make_http_sink()
    FakeSns(sns, secret="role-secret")  # checks Publish is signed with the role's secret
    service = FakeSts(sts)
    target = role_sns(sns, sts, monkeypatch)
    send(target, batch(alert("a")))
    send(target, batch(alert("b")))
    assert len(service.assumed) == 1
    params = service.assumed[0]
    assert {key: params[key] for key in ("Action", "Version", "RoleArn", "ExternalId", "DurationSeconds")} == {
        "Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": "arn:aws:iam::1:role/alerts",
        "ExternalId": "fleet-ext", "DurationSeconds": "900"}
    assert params["RoleSessionName"]
    assert "Credential=AKIABASE/" in sts.requests[0].headers["Authorization"]
    assert all("Credential=ASIAROLE1/" in r.headers["Authorization"] for r in sns.requests)
    assert [r.headers["X-Amz-Security-Token"] for r in sns.requests] == ["session-1"] * 2
    assert all(dict(parse_qsl(r.body.decode()))["Action"] == "Publish" for r in sns.requests)


def test_sns_role_credentials_near_expiry_are_assumed_again_and_sts_refusals_say_why(make_http_sink, monkeypatch):
    sns, sts = make_http_sink(), make_http_sink()
    FakeSns(sns, secret="role-secret")
    service = FakeSts(sts, lifetime=timedelta(seconds=30))  # inside the 60 s renewal margin
    target = role_sns(sns, sts, monkeypatch)
    send(target, batch(alert("a")))
    send(target, batch(alert("b")))
    assert [r.headers["X-Amz-Security-Token"] for r in sns.requests] == ["session-1", "session-2"]
    service.secret = "rotated"  # the base key no longer signs for STS
    with pytest.raises(DeliveryError, match="STS AssumeRole of arn:aws:iam::1:role/alerts failed: "
                                            "SignatureDoesNotMatch: bad signature") as refused:
        send(role_sns(sns, sts, monkeypatch), batch(alert("c")))
    assert not refused.value.retryable and len(sns.requests) == 2


# --- SNS with the credentials of the container or instance ------------------------------------------------

def machine_credentials_only(monkeypatch, tmp_path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                 "AWS_EC2_METADATA_DISABLED", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))


def temporary(key: str, token: str) -> bytes:
    expiry = (datetime.now(timezone.utc) + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"Code": "Success", "AccessKeyId": key, "SecretAccessKey": "machine-secret", "Token": token,
                       "Expiration": expiry}).encode()


def keyless_sns(sns_sink) -> object:
    return integration("sns", {"api_url": sns_sink.url("/"), "topic_arn": "arn:aws:sns:eu-west-1:1:fleet",
                               "sigv4": {"region": "eu-west-1"}})


def test_sns_without_keys_takes_the_instance_roles_credentials_over_imdsv2(make_http_sink, monkeypatch, tmp_path):
    machine_credentials_only(monkeypatch, tmp_path)
    sns, imds = make_http_sink(), make_http_sink()
    FakeSns(sns, secret="machine-secret")

    def metadata(request: Received) -> tuple[int, bytes]:
        if request.method == "PUT" and request.path == "/latest/api/token":
            return (200, b"imds-token") if request.headers["X-aws-ec2-metadata-token-ttl-seconds"] else (400, b"")
        if request.headers.get("X-aws-ec2-metadata-token") != "imds-token":
            return 401, b""  # IMDSv2 only: no session token, no answer
        if request.path == "/latest/meta-data/iam/security-credentials/":
            return 200, b"fleet-hub-role\n"
        if request.path == "/latest/meta-data/iam/security-credentials/fleet-hub-role":
            return 200, temporary("ASIAINSTANCE", "instance-session")
        return 404, b""

    imds.answer = metadata
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url(""))
    target = keyless_sns(sns)
    send(target, batch(alert("a")))
    send(target, batch(alert("b")))
    assert [(r.method, r.path) for r in imds.requests] == [
        ("PUT", "/latest/api/token"), ("GET", "/latest/meta-data/iam/security-credentials/"),
        ("GET", "/latest/meta-data/iam/security-credentials/fleet-hub-role")]  # kept for the second send
    assert [r.headers["X-Amz-Security-Token"] for r in sns.requests] == ["instance-session"] * 2
    assert all("Credential=ASIAINSTANCE/" in r.headers["Authorization"] for r in sns.requests)


def test_sns_without_keys_takes_the_containers_credentials_and_says_when_there_are_none(make_http_sink,
                                                                                      monkeypatch, tmp_path):
    machine_credentials_only(monkeypatch, tmp_path)
    sns, agent = make_http_sink(), make_http_sink()
    FakeSns(sns, secret="machine-secret")
    agent.answer = lambda request: ((200, temporary("ASIACONTAINER", "container-session"))
                                    if request.headers.get("Authorization") == "agent-token" else (401, b""))
    (tmp_path / "agent-token").write_text("agent-token\n")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.url("/v2/credentials/abc"))
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(tmp_path / "agent-token"))
    send(keyless_sns(sns), batch(alert("a")))
    assert agent.requests[0].path == "/v2/credentials/abc"
    assert sns.requests[0].headers["X-Amz-Security-Token"] == "container-session"
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DeliveryError, match="no AWS credentials") as missing:
        send(keyless_sns(sns), batch(alert("b")))
    assert not missing.value.retryable and len(sns.requests) == 1


def test_config_original_shows_a_proxys_password_as_secret():
    from fleetmon.hub.alerting.shown_config import original_config
    from fleetmon.hub.config import parse_config

    hook = {"url": "http://receiver.test/hook", "http_config": {"proxy_url": "http://bob:hunter2@proxy.test:3128"}}
    config = parse_config({"alerting": {"route": {"receiver": "r"},
                                        "receivers": [{"name": "r", "webhook_configs": [hook]}]}})
    shown = original_config(config.alerting)
    assert "hunter2" not in shown and "http://bob:<secret>@proxy.test:3128" in shown


def test_the_transport_switches_load_and_redirects_are_followed_unless_follow_redirects_is_false():
    from fleetmon.hub.config import parse_config

    def errors(http_config):
        hook = {"url": "http://receiver.test/hook", "http_config": http_config}
        try:
            parse_config({"alerting": {"route": {"receiver": "r"},
                                       "receivers": [{"name": "r", "webhook_configs": [hook]}]}})
        except ConfigError as exc:
            return exc.errors
        return []

    assert errors({"enable_http2": False, "follow_redirects": False}) == []
    assert errors({"enable_http2": True, "follow_redirects": True}) == []
    assert errors({"follow_redirects": "sometimes"}) != []
    assert webhook("http://receiver.test/hook").http.follow_redirects  # Alertmanager's default
    assert not webhook("http://receiver.test/hook", follow_redirects=False).http.follow_redirects
