"""``http_config.follow_redirects`` (default true), against real local servers, and its decisions as tables.

``Redirector`` is a real HTTP(S) server on a loopback address of the test's choosing that records every
request and answers a path listed in ``routes`` with that status and Location, anything else with 200 (or
as ``answer`` plays a service). 127.0.0.1 and 127.0.0.2 (or localhost) are two hosts to Go's rule, so a
chain across two Redirectors shows which headers a hop to another host carries. Through ``ForwardProxy``
(test_receivers_transport) the made-up names ``*.test`` reach 127.0.0.1, so a subdomain can be tried too.
"""

import base64
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleetmon.hub.alerting.receivers import DeliveryError
from fleetmon.hub.alerting.receivers.http import HttpConfig, post
from fleetmon.hub.alerting.receivers.redirects import Hop, follow, forwarded, same_site
from tests.hub.alerting.conftest import Certificate, Received
from tests.hub.alerting.test_receivers import alert, batch, integration, send
from tests.hub.alerting.test_receivers_transport import ForwardProxy, TokenService, oauth2_webhook, webhook

BASIC = "Basic " + base64.b64encode(b"hub:pw").decode()


class Redirector:
    def __init__(self, host: str = "127.0.0.1", certificate: Certificate | None = None, name: str = "") -> None:
        self.requests: list[Received] = []
        self.routes: dict[str, tuple[int, str]] = {}  # path (with its query) -> status, Location
        self.answer: Callable[[Received], tuple[int, bytes]] | None = None
        self._lock = threading.Lock()
        redirector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                redirector._handle(self)

            do_GET = do_PUT = do_HEAD = do_POST

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "https" if certificate else "http"
        if certificate:
            self.server.socket = certificate.server_context().wrap_socket(self.server.socket, server_side=True)
        self.host, self.port = name or host, self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook", host: str = "") -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        received = Received(handler.command, handler.path, handler.headers, body)
        with self._lock:
            self.requests.append(received)
            route, play = self.routes.get(handler.path), self.answer
        location = ""
        if route is not None:
            (status, location), answer = route, b"moved"
        elif play is not None:
            status, answer = play(received)
        else:
            status, answer = 200, b"ok"
        handler.send_response(status)
        if location:
            handler.send_header("Location", location)
        handler.send_header("Content-Length", str(len(answer)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(answer)

    def seen(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_redirector():
    made: list[Redirector] = []

    def make(host: str = "127.0.0.1", certificate: Certificate | None = None, name: str = "") -> Redirector:
        made.append(Redirector(host, certificate, name))
        return made[-1]

    yield make
    for redirector in made:
        redirector.close()


@pytest.fixture
def proxy():
    forward = ForwardProxy(credentials="fleet:pw")
    yield forward
    forward.close()


# --- the decisions ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "status", "then", "body_kept"), [
    ("POST", 301, "GET", False),  # Go keeps only GET and HEAD through 301/302/303 (golang/go#18570)
    ("POST", 302, "GET", False),
    ("POST", 303, "GET", False),
    ("PUT", 303, "GET", False),
    ("GET", 301, "GET", False),
    ("GET", 302, "GET", False),
    ("HEAD", 303, "HEAD", False),  # "GET (or HEAD if the original request was HEAD)"
    ("POST", 307, "POST", True),  # 307 and 308 repeat the request as it was
    ("PUT", 308, "PUT", True),
])
def test_redirects_change_the_method_and_drop_the_body_as_gos_client_does(method, status, then, body_kept):
    body = None if method in ("GET", "HEAD") else b'{"a": 1}'
    following = follow(Hop("http://a.example/x", method, body), status, "/y", sent=1)
    assert (following.method, following.url) == (then, "http://a.example/y")
    assert following.body == (body if body_kept else None)


@pytest.mark.parametrize(("status", "location"), [
    (300, "/y"), (304, "/y"), (305, "/y"), (306, "/y"),  # not redirects Go follows
    (301, ""), (307, ""),  # no Location: Go returns the answer as it is
    (200, "/y"), (404, "/y"),
])
def test_other_answers_are_the_answer(status, location):
    assert follow(Hop("http://a.example/x"), status, location, sent=1) is None


@pytest.mark.parametrize(("location", "url"), [
    ("/y?b=2", "http://a.example/y?b=2"),  # relative to the host
    ("z", "http://a.example/dir/z"),  # relative to the path
    ("../up", "http://a.example/up"),
    ("//b.example/p", "http://b.example/p"),  # scheme-relative
    ("https://b.example:8443/p", "https://b.example:8443/p"),
    ("/a b/é?q=a b", "http://a.example/a%20b/%C3%A9?q=a%20b"),  # what a request line cannot carry, encoded
    ("/y#part", "http://a.example/y"),  # a fragment is never sent
])
def test_a_location_is_resolved_against_the_url_asked_for(location, url):
    assert follow(Hop("http://a.example/dir/x?q=1"), 302, location, sent=1).url == url


def test_the_tenth_redirect_is_a_retryable_error_and_so_is_a_location_the_hub_cannot_ask():
    assert follow(Hop("http://a.example/x"), 302, "/y", sent=9) is not None
    for location, sent, message in [("/y", 10, "stopped after 10 redirects"),
                                    ("ftp://a.example/y", 1, "redirects to a ftp URL"),
                                    ("http://[::1/y", 1, "redirects to a Location that is not a URL"),
                                    ("http://a.example:port/y", 1, "redirects to a Location that is not a URL")]:
        with pytest.raises(DeliveryError, match=message) as caught:
            follow(Hop("http://a.example/x"), 307, location, sent=sent)
        assert caught.value.retryable and caught.value.status is None  # as Go's client.Do error in Alertmanager


@pytest.mark.parametrize(("first", "url", "same"), [
    ("http://example.com/a", "http://example.com:8080/b", True),  # the port does not count
    ("http://example.com/", "http://api.example.com/", True),  # a subdomain is the same site
    ("http://Example.COM/", "http://example.com/", True),
    ("http://api.example.com/", "http://example.com/", False),  # the parent is not
    ("http://example.com/", "http://notexample.com/", False),  # a suffix is not a subdomain
    ("http://127.0.0.1/", "http://127.0.0.2/", False),
    ("http://127.0.0.1/", "http://localhost/", False),  # names, not addresses, are compared
    ("http://[::1]/", "https://[::1]:9/", True),
    ("http://bücher.example/", "http://xn--bcher-kva.example/", True),  # compared in their ASCII form
])
def test_same_site_is_gos_domain_or_subdomain_rule(first, url, same):
    assert same_site(first, url) is same


def test_only_the_sensitive_headers_stay_behind_once_a_chain_has_left_its_site():
    headers = {"Authorization": "GenieKey k", "www-authenticate": "Basic", "Cookie": "s=1", "Cookie2": "x",
               "Proxy-Authorization": "p", "X-Trace": "t", "User-Agent": "fleetmon"}
    assert forwarded(headers, crossed=False) == headers
    assert forwarded(headers, crossed=True) == {"Proxy-Authorization": "p", "X-Trace": "t", "User-Agent": "fleetmon"}


# --- against real servers ---------------------------------------------------------------------------------

def test_a_webhook_notification_lands_at_the_redirect_target(make_redirector):
    here, there = make_redirector("127.0.0.1"), make_redirector("127.0.0.2")
    here.routes = {"/hook": (307, "/moved?x=1"), "/moved?x=1": (308, there.url("/final"))}
    hook = integration("webhook", {"url": here.url("/hook"), "hmac_secret": "s3cret",
                                   "http_config": {"basic_auth": {"username": "hub", "password": "pw"}}})
    send(hook, batch(alert("a")))
    assert here.seen() == [("POST", "/hook"), ("POST", "/moved?x=1")]
    [landed] = there.requests
    assert (landed.method, landed.path) == ("POST", "/final")
    assert landed.json()["alerts"][0]["labels"]["host"] == "a"
    hops = [*here.requests, landed]
    assert {r.body for r in hops} == {landed.body}  # 307 and 308 send the body again
    assert [r.headers.get("Authorization") for r in hops] == [BASIC, BASIC, None]  # kept on its host only
    assert len({r.headers["X-Fleetmon-Signature"] for r in hops}) == 1  # the receiver's own header travels on
    assert all(r.headers["User-Agent"].startswith("fleetmon/") for r in hops)


def test_credentials_and_sensitive_headers_stay_off_once_the_chain_left_its_host_even_back_on_it(make_redirector):
    here, there = make_redirector("127.0.0.1"), make_redirector("127.0.0.2")
    here.routes = {"/start": (302, there.url("/away"))}
    there.routes = {"/away": (307, here.url("/back"))}
    headers = {"Cookie": "session=1", "Cookie2": "$Version=1", "WWW-Authenticate": "Basic", "X-Trace": "t"}
    post(here.url("/start"), b"{}", HttpConfig(authorization="Bearer tok"), 5, headers=headers)
    assert here.seen() + there.seen() == [("POST", "/start"), ("GET", "/back"), ("GET", "/away")]
    start, back = here.requests
    [away] = there.requests
    assert start.headers["Authorization"] == "Bearer tok" and start.headers["Cookie"] == "session=1"
    for hop in (away, back):  # prometheus/common and Go: once off the first host, for the rest of the chain
        assert not {"authorization", "cookie", "cookie2", "www-authenticate"} & {k.lower() for k in hop.headers}
        assert hop.headers["X-Trace"] == "t" and hop.body == b""
        assert hop.headers["Content-Type"] == "application/json"  # Go copies the first request's headers


def test_opsgenies_genie_key_is_a_request_header_kept_on_its_host_and_dropped_on_another(make_redirector):
    here, there = make_redirector("127.0.0.1"), make_redirector("127.0.0.2")
    here.routes = {"/v2/alerts": (307, "/eu/v2/alerts"), "/eu/v2/alerts": (308, there.url("/v2/alerts"))}
    genie = integration("opsgenie", {"api_key": "k3y", "api_url": here.url("/")})
    send(genie, batch(alert("a")))
    assert [r.headers.get("Authorization") for r in here.requests] == ["GenieKey k3y"] * 2
    [landed] = there.requests
    assert landed.method == "POST" and "Authorization" not in landed.headers
    assert landed.json()["message"]


def test_the_tenth_redirect_fails_the_delivery_and_the_hub_retries_it(make_redirector):
    here = make_redirector()
    here.routes = {f"/r{n}": (302, f"/r{n + 1}") for n in range(1, 11)}
    with pytest.raises(DeliveryError, match="stopped after 10 redirects") as caught:
        send(webhook(here.url("/r1")), batch(alert("a")))
    assert caught.value.retryable
    assert [path for _, path in here.seen()] == [f"/r{n}" for n in range(1, 11)]  # /r11 was never asked for
    here.requests.clear()
    send(webhook(here.url("/r2")), batch(alert("a")))  # 9 redirects: the 10th request is answered 200
    assert here.seen()[-1] == ("GET", "/r11") and len(here.requests) == 10


@pytest.mark.parametrize(("method", "status", "then"), [
    ("POST", 303, "GET"), ("POST", 301, "GET"), ("PUT", 302, "GET"), ("GET", 301, "GET"), ("HEAD", 303, "HEAD"),
    ("POST", 307, "POST"), ("PUT", 308, "PUT"),
])
def test_each_hop_arrives_with_the_method_and_body_gos_client_sends(make_redirector, method, status, then):
    here = make_redirector()
    here.routes = {"/from": (status, "/to")}
    body = None if method in ("GET", "HEAD") else b'{"alerts": []}'
    post(here.url("/from"), body, HttpConfig(), 5, method=method)
    first, second = here.requests
    assert (first.method, second.method, second.path) == (method, then, "/to")
    assert second.body == (body if status in (307, 308) and body else b"")
    assert ("Content-Length" in second.headers) is (status in (307, 308) and body is not None)


@pytest.mark.parametrize(("http_config", "status", "location"), [
    ({"follow_redirects": False}, 302, "/elsewhere"),  # false: the 3xx is the answer, as before
    ({"follow_redirects": False}, 308, "/elsewhere"),
    ({}, 300, "/elsewhere"),  # followed or not, what Go does not follow is the answer
    ({}, 301, ""),
])
def test_a_3xx_not_followed_fails_the_delivery_without_retry(make_redirector, http_config, status, location):
    here = make_redirector()
    here.routes = {"/hook": (status, location)}
    with pytest.raises(DeliveryError, match=f"HTTP {status}") as caught:
        send(webhook(here.url("/hook"), **http_config), batch(alert("a")))
    assert caught.value.status == status and not caught.value.retryable
    assert here.seen() == [("POST", "/hook")]
    if location:
        assert f"redirected to {location}; set the final URL in the config" in str(caught.value)


def test_a_redirect_to_a_scheme_the_hub_cannot_ask_is_a_retryable_error(make_redirector):
    here = make_redirector()
    here.routes = {"/hook": (308, "ftp://127.0.0.1/hook")}
    with pytest.raises(DeliveryError, match="HTTP 308 redirects to a ftp URL") as caught:
        send(webhook(here.url("/hook")), batch(alert("a")))
    assert caught.value.retryable and len(here.requests) == 1


def test_the_urls_user_password_wins_over_http_config_credentials_and_an_oauth2_token_over_both(
        make_redirector, make_http_sink, tmp_path):
    here = make_redirector()
    here.routes = {"/hook": (307, "/next")}
    userinfo = here.url("/hook", host="bob:s%40fe@127.0.0.1")
    send(webhook(userinfo, bearer_token="tok"), batch(alert("a")))  # Go: set before the RoundTripper runs
    bob = "Basic " + base64.b64encode(b"bob:s@fe").decode()
    assert [r.headers["Authorization"] for r in here.requests] == [bob, bob]  # a relative Location keeps it
    here.requests.clear()
    post(here.url("/hook"), b"{}", HttpConfig(authorization="Bearer tok"), 5, headers={"Authorization": "Key k"})
    assert [r.headers["Authorization"] for r in here.requests] == ["Key k", "Key k"]  # the request's own wins
    here.requests.clear()
    tokens = make_http_sink()
    TokenService(tokens, here)
    target = oauth2_webhook(here, tokens, tmp_path)
    target.url = here.url("/hook", host="bob:s%40fe@127.0.0.1")
    send(target, batch(alert("a")))  # golang.org/x/oauth2 sets its header over whatever is there
    assert [r.headers["Authorization"] for r in here.requests] == ["Bearer token-1"] * 2


def test_an_oauth2_token_refused_on_the_last_hop_is_renewed_and_the_chain_sent_again(make_redirector,
                                                                                     make_http_sink, tmp_path):
    here, there = make_redirector("127.0.0.1"), make_redirector("127.0.0.2")
    here.routes = {"/hook": (307, "/final")}
    tokens = make_http_sink()
    service = TokenService(tokens, here)
    target = oauth2_webhook(here, tokens, tmp_path)
    send(target, batch(alert("a")))
    service.valid = "revoked"
    send(target, batch(alert("b")))
    assert here.seen()[2:] == [("POST", "/hook"), ("POST", "/final")] * 2
    assert [r.headers["Authorization"] for r in here.requests if r.path == "/final"] == [
        "Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert service.issued == 2
    here.routes = {"/hook": (307, there.url("/final"))}
    there.answer = lambda request: (401, b'{"error": "who are you"}')
    with pytest.raises(DeliveryError, match="HTTP 401") as refused:
        send(target, batch(alert("c")))
    assert not refused.value.retryable and service.issued == 2  # no token was sent there: none to renew
    assert len(there.requests) == 1 and "Authorization" not in there.requests[0].headers


def test_each_hop_goes_through_the_http_proxy_and_a_subdomain_keeps_the_credentials(make_redirector, proxy):
    here, there = make_redirector(), make_redirector()
    here.routes = {"/hook": (307, f"http://sub.receiver.test:{here.port}/sub"),
                   "/sub": (308, f"http://other.test:{there.port}/final")}
    target = webhook(f"http://receiver.test:{here.port}/hook", proxy_url=proxy.url("fleet:pw"), bearer_token="tok")
    send(target, batch(alert("a")))
    assert [(method, path) for method, path, _ in proxy.seen] == [
        ("POST", f"http://receiver.test:{here.port}/hook"), ("POST", f"http://sub.receiver.test:{here.port}/sub"),
        ("POST", f"http://other.test:{there.port}/final")]
    fleet = "Basic " + base64.b64encode(b"fleet:pw").decode()
    assert [headers["Proxy-Authorization"] for _, _, headers in proxy.seen] == [fleet] * 3
    assert [headers.get("Authorization") for _, _, headers in proxy.seen] == ["Bearer tok", "Bearer tok", None]
    assert there.seen() == [("POST", "/final")] and there.requests[0].json()["alerts"]


def test_each_hop_chooses_its_own_proxy(make_redirector, proxy):
    here, there = make_redirector(), make_redirector("127.0.0.2")
    here.routes = {"/hook": (303, there.url("/direct"))}
    target = webhook(f"http://receiver.test:{here.port}/hook", proxy_url=proxy.url("fleet:pw"), no_proxy="example.com")
    send(target, batch(alert("a")))
    assert [path for _, path, _ in proxy.seen] == [f"http://receiver.test:{here.port}/hook"]
    assert there.seen() == [("GET", "/direct")]  # 127.0.0.2 is loopback: never proxied once no_proxy is set


def test_each_https_hop_checks_the_certificate_of_its_own_host(make_redirector, certificate):
    here = make_redirector(certificate=certificate)
    there = make_redirector(certificate=certificate, name="localhost")
    wrong = make_redirector("127.0.0.2", certificate=certificate)  # the certificate names 127.0.0.1, localhost
    here.routes = {"/hook": (308, there.url("/final")), "/astray": (307, wrong.url("/final"))}
    tls = {"tls_config": {"ca_file": str(certificate.cert)}}
    send(webhook(here.url("/hook"), **tls), batch(alert("a")))
    assert there.seen() == [("POST", "/final")]
    with pytest.raises(DeliveryError, match="certificate not trusted") as caught:
        send(webhook(here.url("/astray"), **tls), batch(alert("a")))
    assert not caught.value.retryable and not wrong.requests


def test_https_hops_through_the_proxy_each_get_a_tunnel_of_their_own(make_redirector, certificate, proxy):
    here, there = make_redirector(certificate=certificate), make_redirector(certificate=certificate)
    here.routes = {"/hook": (307, f"https://other.test:{there.port}/final")}
    target = webhook(f"https://receiver.test:{here.port}/hook", proxy_url=proxy.url("fleet:pw"),
                     tls_config={"ca_file": str(certificate.cert), "server_name": "localhost"})
    send(target, batch(alert("a")))
    assert [(method, path) for method, path, _ in proxy.seen] == [
        ("CONNECT", f"receiver.test:{here.port}"), ("CONNECT", f"other.test:{there.port}")]
    assert there.seen() == [("POST", "/final")] and there.requests[0].headers["Host"] == f"other.test:{there.port}"
