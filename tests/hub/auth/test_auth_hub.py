"""Users and sessions on a real hub process (real mosquitto): HTTPS on its listener with a certificate made by
the openssl CLI, and a SIGHUP that changes the users — a removed user's session ends at once, the others stay
logged in with the role the new config gives them, and a bad auth section is refused while the old users keep
working."""

import json
import signal
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from http.client import HTTPException
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import yaml

from fleetmon.hub.auth.middleware import SESSION_COOKIE
from fleetmon.hub.web.live import RECHECK
from tests.hub.auth.visitor import password_of, users
from tests.hub.conftest import HubProcess
from tests.polling import wait_until


class Answer:
    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Browser:
    """A client of the hub over real HTTP(S), keeping its session cookie and CSRF token as the console does."""

    def __init__(self, base: str, context: ssl.SSLContext | None = None) -> None:
        self.base, self.context = base, context
        self.session, self.csrf = "", ""
        self.cookie = None  # the last session cookie the hub set

    def call(self, method: str, path: str, body=None) -> Answer:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.session:
            headers["Cookie"] = f"{SESSION_COOKIE}={self.session}"
        if method != "GET" and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        request = urllib.request.Request(self.base + path, method=method, headers=headers,
                                         data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
                answer = Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            answer = Answer(exc.code, exc.headers, exc.read())
        for header in answer.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie(header)
            if SESSION_COOKIE in cookie:
                self.cookie = cookie[SESSION_COOKIE]
                self.session = self.cookie.value
        return answer

    def login(self, name: str) -> Answer:
        answer = self.call("POST", "/api/v1/auth/login", {"user": name, "password": password_of(name)})
        assert answer.status == 200, answer.body
        self.csrf = answer.json()["csrf"]
        return answer

    def me(self) -> dict:
        return self.call("GET", "/api/v1/auth/me").json()


class HttpsHub(HubProcess):
    """The hub process of tests/hub/conftest.py, asked over HTTPS."""

    context: ssl.SSLContext

    def get(self, path: str, ok_only: bool = True):
        try:
            answer = Browser(f"https://127.0.0.1:{self.port}", self.context).call("GET", path)
        except OSError:  # not listening yet
            return None
        return None if ok_only and answer.status >= 400 else answer.status


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    cert, key = tmp_path / "hub.crt", tmp_path / "hub.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def test_the_hub_serves_https_with_a_secure_session_cookie_and_no_plain_http(tmp_path, broker, certificate):
    cert, key = certificate
    hub = HttpsHub(tmp_path, broker, {"auth": {"users": users("otto")},
                                      "listen_tls": {"cert_file": str(cert), "key_file": str(key)}})
    hub.context = ssl.create_default_context(cafile=str(cert))  # trusts this certificate and nothing else
    try:
        hub.start()
        browser = Browser(f"https://127.0.0.1:{hub.port}", hub.context)
        assert browser.call("GET", "/api/v1/hosts").status == 401
        browser.login("otto")
        assert (browser.cookie["secure"], browser.cookie["httponly"], browser.cookie["samesite"]) == (True, True,
                                                                                                      "strict")
        assert browser.me()["user"] == "otto"
        assert browser.call("GET", "/api/v1/hosts").status == 200
        assert browser.call("POST", "/api/v1/acks", {"target": "nothing"}).status == 404  # heard: CSRF passed

        with pytest.raises((OSError, HTTPException)):  # no answer at all, least of all a page or a cookie
            urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/api/v1/auth/me", timeout=10)
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # not the system's CAs
            urllib.request.urlopen(f"https://127.0.0.1:{hub.port}/health/live", timeout=10,
                                   context=ssl.create_default_context())
        assert browser.me()["user"] == "otto"  # the hub runs on
        assert f"https://127.0.0.1:{hub.port}" in hub.log
    finally:
        hub.stop()
        print(f"--- hub log ---\n{hub.log}")


def reloads(hub: HubProcess, result: str) -> float:
    for line in (hub.get("/metrics") or "").splitlines():
        if line.startswith(f'fleetmon_hub_config_reloads_total{{result="{result}"}}'):
            return float(line.split()[-1])
    return 0.0


def reload_with(hub: HubProcess, auth: dict) -> None:
    """Rewrite the config's ``auth`` section, SIGHUP the hub, wait until it has read the file."""
    config = yaml.safe_load(hub.config_path.read_text())
    config["auth"] = auth
    hub.config_path.write_text(yaml.safe_dump(config))
    before = reloads(hub, "success") + reloads(hub, "failure")
    hub.process.send_signal(signal.SIGHUP)
    wait_until(lambda: reloads(hub, "success") + reloads(hub, "failure") > before, timeout=10,
               message="the reload to be counted")


def with_role(name: str, role: str) -> list[dict]:
    return [{**entry, "role": role} if entry["name"] == name else entry for entry in users()]


def test_a_reload_ends_the_sessions_of_removed_users_and_keeps_the_others_with_their_new_role(start_hub):
    hub = start_hub({"auth": {"users": users()}})
    base = f"http://127.0.0.1:{hub.port}"
    vera, otto = Browser(base), Browser(base)
    vera.login("vera")
    otto.login("otto")
    assert otto.call("POST", "/api/v1/acks", {"target": "nothing"}).status == 404  # an operator: heard

    reload_with(hub, {"users": [entry for entry in with_role("otto", "viewer") if entry["name"] != "vera"]})
    assert reloads(hub, "success") == 1
    assert vera.me()["user"] is None  # removed: her session ended at once
    assert vera.call("GET", "/api/v1/hosts").status == 401
    assert otto.me() | {"csrf": ""} == {"user": "otto", "role": "viewer", "csrf": "", "anonymous_read": False,
                                         "users_configured": True}
    assert otto.call("GET", "/api/v1/hosts").status == 200  # still logged in, the same session
    assert otto.call("POST", "/api/v1/acks", {"target": "nothing"}).status == 403  # now a viewer

    reload_with(hub, {"users": with_role("otto", "boss")})  # an error: refused as a whole
    assert reloads(hub, "failure") == 1 and hub.process.poll() is None
    assert "reload refused" in hub.log and "auth.users[1].role" in hub.log
    assert otto.me()["role"] == "viewer"  # the running config, unchanged
    assert vera.me()["user"] is None  # the refused config would have had her back
    assert Browser(base).login("ada").json()["role"] == "admin"
    assert Browser(base).call("POST", "/api/v1/auth/login", {"user": "vera", "password": password_of("vera")}) \
        .status == 401


def test_a_reload_that_removes_a_user_ends_the_live_stream_she_has_open(start_hub):
    hub = start_hub({"auth": {"users": users()}})
    vera = Browser(f"http://127.0.0.1:{hub.port}")
    vera.login("vera")
    request = urllib.request.Request(vera.base + "/api/v1/live", headers={"Cookie": f"{SESSION_COOKIE}={vera.session}"})
    stream = urllib.request.urlopen(request, timeout=30)
    assert stream.status == 200
    ended = threading.Event()

    def read_to_the_end() -> None:
        while stream.read(1024):
            pass
        ended.set()

    threading.Thread(target=read_to_the_end, daemon=True).start()
    reload_with(hub, {"users": [entry for entry in users() if entry["name"] != "vera"]})
    # The stream asks every few seconds whether its credentials still let it in (fleetmon.hub.web.live.RECHECK).
    assert ended.wait(RECHECK + 5), "the removed user's stream ended"
    assert vera.call("GET", "/api/v1/live").status == 401  # and her reconnect meets the login
