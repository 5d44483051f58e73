"""The keys of prometheus/common v0.70.1 and prometheus/sigv4 that Alertmanager 0.34 is built with: inline PEM in
``tls_config``, ``http_headers``, oauth2's JWT-bearer grant, ``server_name`` for SMTP, sigv4's ``service_name``
and ``use_fips_sts_endpoint``, and the ``*_ref`` keys refused for want of a secret manager; against real peers.

The TLS server requires a client certificate signed by the test CA; the OAuth server verifies the JWT assertion
as RFC 7523 §3 asks (signature with the client's public key, iss, sub, aud, exp, iat) before it issues a
token; the SMTP server's certificate names only ``mail.test``; the SNS stand-in recomputes each signature for
the service it plays; STS's FIPS host is seen where the hub asks a recording proxy for it (AWS is not reached).
"""

import base64
import json
import re
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from fleetmon.hub.alerting.receivers import DeliveryError, sigv4
from fleetmon.hub.alerting.receivers.aws_sts import sts_endpoint
from tests.hub.alerting.conftest import Certificate, Received, make_ca, openssl, self_signed, signed
from tests.hub.alerting.test_receivers import alert, batch, config_errors, integration, send
from tests.hub.alerting.test_receivers_incident import FakeSns
from tests.hub.alerting.test_receivers_proxies import HttpProxy

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
NO_MANAGER = "secret references need a secret manager, which Alertmanager (and the hub) does not have"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: Certificate  # for 127.0.0.1
    client: Certificate  # a client certificate the CA signed
    mail: Certificate  # self-signed, for mail.test only
    rsa_key: Path  # the OAuth client's key (PKCS #8)
    ec_key: Path  # a key that is not RSA


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(directory)
    server = signed(directory, ca, "server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    client = signed(directory, ca, "client", "extendedKeyUsage=clientAuth\n")
    rsa_key, ec_key = directory / "oauth.key", directory / "ec.key"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(rsa_key))
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", str(ec_key))
    return Pki(ca.cert, server, client, self_signed(directory, "mail.test", "DNS:mail.test"), rsa_key, ec_key)


def webhook(url: str, **http_config) -> object:
    return integration("webhook", {"url": url, "http_config": http_config})


# --- tls_config: inline ca, cert and key ----------------------------------------------------------------------

@dataclass(frozen=True)
class ClientCertRequired:
    """The server side of a TLS sink that takes only clients with a certificate the test CA signed."""

    server: Certificate
    ca: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca))
        context.load_cert_chain(self.server.cert, self.server.key)
        context.verify_mode = ssl.CERT_REQUIRED
        return context


def test_inline_ca_cert_and_key_reach_a_server_that_requires_a_client_certificate(make_http_sink, pki):
    sink = make_http_sink(ClientCertRequired(pki.server, pki.ca))
    inline = {"ca": pki.ca.read_text(), "cert": pki.client.cert.read_text(), "key": pki.client.key.read_text()}
    send(webhook(sink.url(), tls_config=inline), batch(alert("a")))
    # the inline text and the files are the same settings; they mix, one way for each of the three
    send(webhook(sink.url(), tls_config={"ca_file": str(pki.ca), "cert": inline["cert"],
                                         "key_file": str(pki.client.key)}), batch(alert("b")))
    assert [r.json()["alerts"][0]["labels"]["host"] for r in sink.wait(2)] == ["a", "b"]
    with pytest.raises(DeliveryError) as refused:  # the same CA, no client certificate: the server hangs up
        send(webhook(sink.url(), tls_config={"ca": inline["ca"]}), batch(alert("c")))
    assert len(sink.requests) == 2, refused.value
    with pytest.raises(DeliveryError, match="certificate not trusted"):  # a client that does not trust the CA
        send(webhook(sink.url(), tls_config={"cert": inline["cert"], "key": inline["key"]}), batch(alert("d")))


def test_inline_pem_keys_follow_prometheus_commons_rules(pki):
    at = "receivers[0].webhook_configs[0].http_config.tls_config"
    pem = {"ca": pki.ca.read_text(), "cert": pki.client.cert.read_text(), "key": pki.client.key.read_text()}
    cases = [
        ({"ca": pem["ca"], "ca_file": str(pki.ca)}, f"{at}.ca_file: at most one of ca, ca_file & ca_ref must be "
                                                    "configured"),
        ({"cert": pem["cert"], "cert_file": str(pki.client.cert), "key": pem["key"]},
         f"{at}.cert_file: at most one of cert, cert_file & cert_ref must be configured"),
        ({"cert": pem["cert"], "key": pem["key"], "key_file": str(pki.client.key)},
         f"{at}.key_file: at most one of key and key_file must be configured"),
        ({"cert": pem["cert"]}, f"{at}: exactly one of key or key_file must be configured when a client "
                                "certificate is configured"),
        ({"key_file": str(pki.client.key)}, f"{at}: exactly one of cert or cert_file must be configured when a "
                                            "client key is configured"),
        ({"ca": "not a certificate"}, f"{at}.ca: cannot load the CA certificate: "),
        ({"cert": pem["cert"], "key": pki.mail.key.read_text()}, f"{at}.cert: cannot load cert with key: "),
    ]
    for tls_config, expected in cases:
        errors = config_errors({"receivers": [{"name": "r", "webhook_configs": [
            {"url": "https://127.0.0.1/", "http_config": {"tls_config": tls_config}}]}]})
        assert any(error.startswith(expected) for error in errors), (tls_config.keys(), errors)


def test_a_configured_ca_is_the_only_one_trusted_as_gos_root_cas(make_http_sink, pki, certificate, monkeypatch):
    """The system's CAs (here SSL_CERT_FILE, which holds the sink's self-signed certificate) are trusted without
    a CA setting, and not beside one: prometheus/common sets RootCAs to the configured CA alone."""
    sink = make_http_sink(certificate)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    send(webhook(sink.url(), tls_config={"min_version": "TLS12"}), batch(alert("system")))
    with pytest.raises(DeliveryError, match="certificate not trusted"):
        send(webhook(sink.url(), tls_config={"ca_file": str(pki.ca)}), batch(alert("other")))
    assert [r.json()["alerts"][0]["labels"]["host"] for r in sink.wait(1)] == ["system"]


def test_authorization_type_basic_is_refused_as_prometheus_common_refuses_it():
    errors = config_errors({"receivers": [{"name": "r", "webhook_configs": [
        {"url": "https://127.0.0.1/", "http_config": {"authorization": {"type": "Basic", "credentials": "x"}}}]}]})
    assert any(e.startswith("receivers[0].webhook_configs[0].http_config.authorization.type: authorization type "
                            'cannot be set to "basic", use "basic_auth" instead') for e in errors), errors


# --- the *_ref keys -------------------------------------------------------------------------------------------

def test_secret_references_are_refused_saying_why_wherever_prometheus_common_has_them():
    http_config = {"basic_auth": {"username_ref": "u", "password_ref": "p"},
                   "tls_config": {"ca_ref": "c", "cert_ref": "c", "key_ref": "k"}}
    errors = config_errors({"receivers": [{"name": "r", "webhook_configs": [
        {"url": "http://127.0.0.1/", "http_config": http_config},
        {"url": "http://127.0.0.1/", "http_config": {"authorization": {"credentials_ref": "c"}}},
        {"url": "http://127.0.0.1/", "http_config": {"oauth2": {
            "client_id": "hub", "client_secret_ref": "s", "token_url": "http://127.0.0.1/token"}}},
        {"url": "http://127.0.0.1/", "http_config": {"oauth2": {
            "client_id": "hub", "grant_type": JWT_BEARER, "client_certificate_key_ref": "k",
            "token_url": "http://127.0.0.1/token"}}}]}]})
    at = "receivers[0].webhook_configs"
    for path, instead in [("[0].http_config.basic_auth.username_ref", "username or username_file"),
                          ("[0].http_config.basic_auth.password_ref", "password or password_file"),
                          ("[0].http_config.tls_config.ca_ref", "ca or ca_file"),
                          ("[0].http_config.tls_config.cert_ref", "cert or cert_file"),
                          ("[0].http_config.tls_config.key_ref", "key or key_file"),
                          ("[1].http_config.authorization.credentials_ref", "credentials or credentials_file"),
                          ("[2].http_config.oauth2.client_secret_ref", "client_secret or client_secret_file"),
                          ("[3].http_config.oauth2.client_certificate_key_ref",
                           "client_certificate_key or client_certificate_key_file")]:
        assert f"{at}{path}: {NO_MANAGER}: use the inline key or its _file ({instead})" in errors, (path, errors)
    assert not any("unknown key" in error for error in errors), errors


# --- http_headers ---------------------------------------------------------------------------------------------

def test_http_headers_values_secrets_and_files_reach_the_receiver_and_files_are_read_at_each_request(http_sink,
                                                                                                     tmp_path):
    tenant = tmp_path / "tenant"
    tenant.write_text("edge-7\n")
    target = webhook(http_sink.url(), http_headers={
        "X-Scope-OrgID": {"values": ["fleet", "edge"]}, "x-api-key": {"secrets": ["s3cret"]},
        "X-Tenant": {"files": [str(tenant)]}, "X-Mixed": {"values": ["v"], "secrets": ["s"], "files": [str(tenant)]}})
    send(target, batch(alert("a")))
    tenant.write_text("edge-8")
    send(target, batch(alert("b")))
    first, second = http_sink.wait(2)
    assert first.headers.get_all("X-Scope-OrgID") == ["fleet, edge"]  # one field, its values in order
    assert first.headers["X-Api-Key"] == "s3cret" and first.headers["X-Mixed"] == "v, s, edge-7"
    assert [first.headers["X-Tenant"], second.headers["X-Tenant"]] == ["edge-7", "edge-8"]
    assert first.headers["Content-Type"] == "application/json"  # the receiver's own headers are untouched
    tenant.unlink()
    with pytest.raises(DeliveryError, match=f"unable to read headers file {tenant}") as failed:
        send(target, batch(alert("c")))
    assert failed.value.retryable and len(http_sink.requests) == 2


def test_http_headers_reach_sns_and_sts_beside_the_signature(make_http_sink):
    sns = make_http_sink()
    FakeSns(sns)
    send(integration("sns", {"api_url": sns.url("/"), "topic_arn": "arn:aws:sns:eu-west-1:1:fleet",
                             "sigv4": {"region": "eu-west-1", "access_key": "AKIAFLEET", "secret_key": "sns-secret"},
                             "http_config": {"http_headers": {"X-Fleet": {"values": ["hub"]}}}}), batch(alert("a")))
    (request,) = sns.wait()
    assert request.headers["X-Fleet"] == "hub" and "x-fleet" not in request.headers["Authorization"]


def test_reserved_and_malformed_http_headers_are_refused_at_their_key():
    at = "receivers[0].webhook_configs[0].http_config.http_headers"
    headers = {"authorization": {"values": ["Bearer x"]}, "Content-Type": {"values": ["text/plain"]},
               "x-amz-date": {"values": ["now"]}, "X Bad": {"values": ["v"]},
               "X-Break": {"values": ["a\r\nInjected: yes"]}, "X-Missing": {"files": ["/nonexistent/f"]},
               "X-Typo": {"value": ["v"]}}
    errors = config_errors({"receivers": [{"name": "r", "webhook_configs": [
        {"url": "http://127.0.0.1/", "http_config": {"http_headers": headers}}]}]})
    for expected in [f'{at}.authorization: setting header "Authorization" is not allowed',
                     f'{at}.Content-Type: setting header "Content-Type" is not allowed',
                     f'{at}.x-amz-date: setting header "X-Amz-Date" is not allowed',
                     f"{at}.X Bad: 'X Bad' is not a valid header name",
                     f"{at}.X-Break.values[0]: a header value cannot hold a line break or NUL",
                     f"{at}.X-Missing.files[0]: cannot read /nonexistent/f"]:
        assert expected in errors, (expected, errors)
    assert any(error.startswith(f"{at}.X-Typo.value: unknown key") for error in errors), errors


# --- oauth2: the JWT-bearer grant -----------------------------------------------------------------------------

def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class JwtTokenServer:
    """An OAuth 2.0 token endpoint for the JWT-bearer grant (RFC 7523): it verifies the assertion's signature
    with the client's public key and checks its claims as §3 asks, then issues a token; and a receiver that
    takes only the newest token."""

    def __init__(self, token_sink, receiver_sink, public_key_pem: bytes, issuer: str, audience: str,
                 algorithm: str = "RS256", kid: str = "") -> None:
        self.public_key = serialization.load_pem_public_key(public_key_pem)
        self.issuer, self.audience, self.algorithm, self.kid = issuer, audience, algorithm, kid
        self.claims: list[dict] = []
        self.valid = ""
        token_sink.answer = self.token
        receiver_sink.answer = self.receive

    def refuse(self, why: str) -> tuple[int, bytes]:
        return 400, json.dumps({"error": "invalid_grant", "error_description": why}).encode()

    def token(self, request: Received) -> tuple[int, bytes]:
        form = dict(parse_qsl(request.body.decode()))
        if form.get("grant_type") != JWT_BEARER or "Authorization" in request.headers:
            return self.refuse(f"not the JWT-bearer grant alone: {form.get('grant_type')}")
        head, body, signature = form.get("assertion", "..").split(".")
        header, claims = json.loads(_b64(head)), json.loads(_b64(body))
        if header.get("alg") != self.algorithm or header.get("kid", "") != self.kid:
            return self.refuse(f"header {header}")
        digest = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512}[self.algorithm]()
        try:
            self.public_key.verify(_b64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), digest)
        except Exception:  # cryptography's InvalidSignature
            return self.refuse("bad signature")
        now = time.time()
        if claims.get("iss") != self.issuer or claims.get("aud") != self.audience or not claims.get("sub"):
            return self.refuse(f"iss, aud or sub: {claims}")
        if not (claims["iat"] <= now + 60 and now < claims["exp"] <= now + 3600 and claims.get("jti")):
            return self.refuse(f"iat, exp or jti: {claims}")
        self.claims.append(claims)
        self.valid = f"token-{len(self.claims)}"
        return 200, json.dumps({"access_token": self.valid, "token_type": "Bearer", "expires_in": 3600,
                                "form": form}).encode()

    def receive(self, request: Received) -> tuple[int, bytes]:
        if not self.valid or request.headers.get("Authorization") != f"Bearer {self.valid}":
            return 401, b'{"error": "invalid_token"}'
        return 200, b"{}"


def _public_pem(key_path: Path) -> bytes:
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_jwt_bearer_assertion_is_verified_by_the_token_server_and_its_token_is_the_bearer(make_http_sink, pki):
    tokens, receiver = make_http_sink(), make_http_sink()
    server = JwtTokenServer(tokens, receiver, _public_pem(pki.rsa_key), issuer="fleet-hub@example.com",
                            audience="https://auth.example.com/", algorithm="RS384", kid="key-2026")
    target = webhook(receiver.url(), oauth2={
        "client_id": "hub", "grant_type": JWT_BEARER, "client_certificate_key": pki.rsa_key.read_text(),
        "client_certificate_key_id": "key-2026", "signature_algorithm": "RS384", "iss": "fleet-hub@example.com",
        "audience": "https://auth.example.com/", "scopes": ["alerts:write", "read"], "token_url": tokens.url("/token"),
        "claims": {"tenant": "fleet", "roles": ["notify"], "sub": "hub-service"}})
    send(target, batch(alert("a")))
    send(target, batch(alert("b")))
    assert len(server.claims) == 1, [r.body for r in tokens.requests]  # the token is kept for the second
    (claims,) = server.claims
    assert claims["exp"] - claims["iat"] == 600 and claims["scope"] == "alerts:write read"
    # claims are added last and win over the standard ones (sub is client_id without it)
    assert (claims["sub"], claims["tenant"], claims["roles"]) == ("hub-service", "fleet", ["notify"])
    form = dict(parse_qsl(tokens.requests[0].body.decode()))
    assert form["scope"] == "alerts:write read" and set(form) == {"grant_type", "assertion", "scope"}
    assert [r.headers["Authorization"] for r in receiver.requests] == ["Bearer token-1"] * 2


def test_jwt_bearer_defaults_to_client_id_and_token_url_and_reads_the_key_file_at_each_request(make_http_sink, pki,
                                                                                               tmp_path):
    tokens, receiver = make_http_sink(), make_http_sink()
    server = JwtTokenServer(tokens, receiver, _public_pem(pki.rsa_key), issuer="hub", audience=tokens.url("/token"))
    key_file = tmp_path / "client.key"
    key_file.write_text(pki.rsa_key.read_text())
    target = webhook(receiver.url(), oauth2={"client_id": "hub", "grant_type": JWT_BEARER,
                                             "client_certificate_key_file": str(key_file),
                                             "token_url": tokens.url("/token")})
    send(target, batch(alert("a")))
    assert server.claims[0]["sub"] == "hub" and "scope" not in server.claims[0]
    server.valid = "revoked"  # the receiver refuses the kept token: the hub signs a new assertion for another
    key_file.write_text(pki.ec_key.read_text())  # a rotated key the hub cannot sign with
    with pytest.raises(DeliveryError, match=r"client_certificate_key_file .*key is not a valid RSA private key"):
        send(target, batch(alert("b")))
    key_file.write_text(pki.rsa_key.read_text())
    send(target, batch(alert("c")))
    assert len(server.claims) == 2 and receiver.requests[-1].headers["Authorization"] == "Bearer token-2"


def test_jwt_bearer_config_errors_name_their_keys(pki, tmp_path):
    at = "receivers[0].webhook_configs[0].http_config.oauth2"
    base = {"client_id": "hub", "grant_type": JWT_BEARER, "token_url": "http://127.0.0.1/token"}
    key = pki.rsa_key.read_text()
    cases = [
        ({}, f"{at}.client_certificate_key: client_certificate_key or client_certificate_key_file is required"),
        ({"client_certificate_key": key, "client_certificate_key_file": str(pki.rsa_key)},
         f"{at}.client_certificate_key_file: at most one of oauth2 client_certificate_key, "
         "client_certificate_key_file & client_certificate_key_ref must be configured"),
        ({"client_certificate_key": key, "signature_algorithm": "ES256"},
         f"{at}.signature_algorithm: valid signature algorithms are RS256, RS384 and RS512"),
        ({"client_certificate_key": pki.ec_key.read_text()},
         f"{at}.client_certificate_key: key is not a valid RSA private key"),
        ({"client_certificate_key_file": str(tmp_path / "absent")}, f"{at}.client_certificate_key_file: cannot read"),
        ({"client_certificate_key": key, "endpoint_params": {"assertion": "mine"}},
         f'{at}.endpoint_params.assertion: oauth2: cannot overwrite parameter "assertion"'),
        ({"client_certificate_key": key, "claims": ["not", "a", "mapping"]}, f"{at}.claims: must be a mapping"),
        ({"grant_type": "password"}, f"{at}.grant_type: must be one of: client_credentials, {JWT_BEARER}"),
    ]
    for extra, expected in cases:
        errors = config_errors({"receivers": [{"name": "r", "webhook_configs": [
            {"url": "http://127.0.0.1/", "http_config": {"oauth2": {**base, **extra}}}]}]})
        assert any(error.startswith(expected) for error in errors), (extra.keys(), errors)
    # grant_type replaced through endpoint_params is allowed, as prometheus/common allows it
    integration("webhook", {"url": "http://127.0.0.1/", "http_config": {"oauth2": {
        **base, "client_certificate_key": key, "endpoint_params": {"grant_type": "jwt"}}}})


# --- SMTP tls_config.server_name ------------------------------------------------------------------------------

def test_smtp_server_name_is_the_name_the_certificate_is_checked_for(make_smtp_sink, pki):
    sink = make_smtp_sink(certificate=pki.mail)  # STARTTLS with a certificate for mail.test, at 127.0.0.1
    mail = {"to": "ops@example.com", "from": "hub@example.com", "smarthost": f"127.0.0.1:{sink.port}"}
    trusted = {"ca": pki.mail.cert.read_text()}
    with pytest.raises(DeliveryError, match="certificate not trusted") as refused:
        send(integration("email", {**mail, "tls_config": trusted}), batch(alert("a")))
    assert not refused.value.retryable and "127.0.0.1" in str(refused.value)
    send(integration("email", {**mail, "tls_config": {**trusted, "server_name": "mail.test"}}), batch(alert("b")))
    send(integration("email", mail, glob={"smtp_tls_config": {**trusted, "server_name": "mail.test"}}),
         batch(alert("c")))
    assert [m.tls for m in sink.wait(2)] == [True, True]
    with pytest.raises(DeliveryError, match="certificate not trusted"):  # the name must be the certificate's
        send(integration("email", {**mail, "tls_config": {**trusted, "server_name": "other.test"}}),
             batch(alert("d")))
    assert len(sink.mails) == 2


# --- sigv4: service_name and use_fips_sts_endpoint -----------------------------------------------------------

class SignedService:
    """FakeSns's check for a service of another signing name: each signature recomputed for ``service``, with
    the secret it knows, from the headers the request says it signed."""

    def __init__(self, sink, service: str, secret: str = "sns-secret") -> None:
        self.service, self.secret = service, secret
        sink.answer = self.answer

    def answer(self, request: Received) -> tuple[int, bytes]:
        authorization = request.headers.get("Authorization", "")
        match = re.fullmatch(rf"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{{8}})/([^/]+)/{self.service}/aws4_request, "
                             r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", authorization)
        if not match:
            return FakeSns.error(403, "SignatureDoesNotMatch", f"credential scope is not for {self.service}")
        access_key, _, region, names, _ = match.groups()
        signed = {name: request.headers[name] for name in names.split(";")}
        expected = sigv4.authorization("POST", f"http://{request.headers['Host']}{request.path}", signed,
                                       request.body, sigv4.Credentials(access_key, self.secret), region, self.service,
                                       request.headers["X-Amz-Date"])
        if expected != authorization:
            return FakeSns.error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
        return 200, b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"></PublishResponse>'


def sns(sink, **sigv4_keys) -> object:
    return integration("sns", {"api_url": sink.url("/"), "topic_arn": "arn:aws:sns:eu-west-1:1:fleet", "sigv4": {
        "region": "eu-west-1", "access_key": "AKIAFLEET", "secret_key": "sns-secret", **sigv4_keys}})


def test_service_name_is_the_signing_name_of_the_credential_scope(make_http_sink):
    default, gateway = make_http_sink(), make_http_sink()
    FakeSns(default)  # checks the default: sns
    SignedService(gateway, "execute-api")
    send(sns(default), batch(alert("a")))
    send(sns(gateway, service_name="execute-api"), batch(alert("a")))
    (plain,), (named,) = default.wait(), gateway.wait()
    assert "/eu-west-1/sns/aws4_request, SignedHeaders=" in plain.headers["Authorization"]
    assert "/eu-west-1/execute-api/aws4_request, SignedHeaders=" in named.headers["Authorization"]
    with pytest.raises(DeliveryError, match="credential scope is not for execute-api"):
        send(sns(gateway), batch(alert("b")))


@pytest.fixture
def recording_proxy(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.delenv(name, raising=False)
    proxy = HttpProxy(refuse_tunnels=True)  # the hub asks it for STS's host, which is never reached
    yield proxy
    proxy.close()


@pytest.mark.parametrize(("region", "fips", "host"), [
    ("eu-west-1", True, "sts-fips.eu-west-1.amazonaws.com"),
    ("eu-west-1", False, "sts.eu-west-1.amazonaws.com"),
    ("us-gov-west-1", True, "sts.us-gov-west-1.amazonaws.com"),  # GovCloud's regional STS is its FIPS one
    ("cn-north-1", True, "sts-fips.cn-north-1.amazonaws.com.cn"),
])
def test_use_fips_sts_endpoint_sends_assume_role_to_stss_fips_host(region, fips, host, http_sink, recording_proxy):
    target = integration("sns", {"api_url": http_sink.url("/"), "topic_arn": "arn:aws:sns:eu-west-1:1:fleet",
                                 "sigv4": {"region": region, "access_key": "AKIAFLEET", "secret_key": "s",
                                           "role_arn": "arn:aws:iam::1:role/hub", "use_fips_sts_endpoint": fips},
                                 "http_config": {"proxy_url": recording_proxy.url()}})
    with pytest.raises(DeliveryError, match="STS AssumeRole of arn:aws:iam::1:role/hub failed"):
        send(target, batch(alert("a")))
    assert [a.target for a in recording_proxy.asked] == [f"{host}:443"] and http_sink.requests == []


def test_use_fips_sts_endpoint_applies_to_web_identity_and_refuses_a_custom_endpoint(http_sink, recording_proxy,
                                                                                     monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "token").write_text("token-1")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/hub")
    config = {"api_url": http_sink.url("/"), "topic_arn": "arn:aws:sns:eu-west-1:1:fleet",
              "sigv4": {"region": "eu-west-1", "use_fips_sts_endpoint": True},
              "http_config": {"proxy_url": recording_proxy.url()}}
    with pytest.raises(DeliveryError, match="STS AssumeRoleWithWebIdentity"):
        send(integration("sns", config), batch(alert("a")))
    assert [a.target for a in recording_proxy.asked] == ["sts-fips.eu-west-1.amazonaws.com:443"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", http_sink.url("/"))
    with pytest.raises(DeliveryError, match="FIPS and custom endpoint are not supported") as refused:
        send(integration("sns", config), batch(alert("b")))
    assert not refused.value.retryable and http_sink.requests == [] and len(recording_proxy.asked) == 1
    assert sts_endpoint("eu-west-1", {"AWS_ENDPOINT_URL_STS": "http://sts.local/"}) == "http://sts.local/"


# --- what the API shows ---------------------------------------------------------------------------------------

def test_config_original_shows_the_inline_key_the_jwt_key_and_header_secrets_as_secret(pki):
    from fleetmon.hub.alerting.shown_config import original_config
    from fleetmon.hub.config import parse_config

    key, rsa_key = pki.client.key.read_text(), pki.rsa_key.read_text()
    hook = {"url": "http://receiver.test/hook", "http_config": {
        "tls_config": {"cert": pki.client.cert.read_text(), "key": key},
        "http_headers": {"X-Api-Key": {"values": ["shown"], "secrets": ["hidden-value"]}},
        "oauth2": {"client_id": "hub", "grant_type": JWT_BEARER, "client_certificate_key": rsa_key,
                   "token_url": "http://auth.test/token"}}}
    config = parse_config({"alerting": {"route": {"receiver": "r"},
                                        "receivers": [{"name": "r", "webhook_configs": [hook]}]}})
    shown = original_config(config.alerting)
    assert "PRIVATE KEY" not in shown and "hidden-value" not in shown
    assert "BEGIN CERTIFICATE" in shown and "shown" in shown  # Alertmanager shows the certificate and values
    assert shown.count("<secret>") == 4  # the webhook URL is one too
