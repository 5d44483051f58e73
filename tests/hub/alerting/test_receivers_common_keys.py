"""Two keys of prometheus/common's HTTP client config that Alertmanager takes (found by
scripts/alertmanager_config_keys.py against common v0.70.1): ``tls_config.max_version``, tried against a real TLS
server that speaks TLS 1.3 only, and ``basic_auth.username_file``, sent to a real HTTP sink."""

import base64
import ssl

import pytest

from fleetmon.hub.alerting.receivers import DeliveryError
from tests.hub.alerting.conftest import Certificate
from tests.hub.alerting.test_receivers import alert, batch, config_errors, integration, send


class Tls13Only(Certificate):
    def server_context(self) -> ssl.SSLContext:
        context = super().server_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        return context


def webhook(url: str, http_config: dict):
    return integration("webhook", {"url": url, "http_config": http_config})


def test_max_version_caps_the_tls_version_the_hub_offers(make_http_sink, certificate):
    sink = make_http_sink(Tls13Only(certificate.cert, certificate.key))
    capped = webhook(sink.url(), {"tls_config": {"ca_file": str(certificate.cert), "max_version": "TLS12"}})
    with pytest.raises(DeliveryError) as refused:
        send(capped, batch(alert("a")))
    assert "PROTOCOL_VERSION" in str(refused.value)  # the server refused the TLS 1.2 the hub offered
    # the same server answers when TLS 1.3 is allowed: the cap, not the certificate, made the difference
    send(webhook(sink.url(), {"tls_config": {"ca_file": str(certificate.cert), "max_version": "TLS13"}}),
         batch(alert("a")))
    assert len(sink.wait()) == 1


def test_max_version_below_min_version_is_refused_with_prometheus_commons_words():
    errors = config_errors({"receivers": [{"name": "r", "webhook_configs": [
        {"url": "http://127.0.0.1:9/", "http_config": {"tls_config": {"min_version": "TLS13",
                                                                       "max_version": "TLS12"}}}]}]})
    assert errors == ["receivers[0].webhook_configs[0].http_config.tls_config.max_version: tls_config.max_version "
                      "must be greater than or equal to tls_config.min_version if both are specified"]
    errors = config_errors({"global": {"smtp_tls_config": {"max_version": "TLS14"}}, "receivers": []})
    assert errors[0].startswith("global.smtp_tls_config.max_version: must be one of: TLS10, TLS11, TLS12, TLS13")


def test_basic_auth_username_may_come_from_a_file(http_sink, tmp_path):
    (tmp_path / "user").write_text("hub-user\n")
    send(webhook(http_sink.url(), {"basic_auth": {"username_file": str(tmp_path / "user"), "password": "pw"}}),
         batch(alert("a")))
    assert http_sink.wait()[0].headers["Authorization"] == "Basic " + base64.b64encode(b"hub-user:pw").decode()
    errors = config_errors({"receivers": [{"name": "r", "webhook_configs": [
        {"url": "http://127.0.0.1:9/", "http_config": {"basic_auth": {"username": "a",
                                                                      "username_file": str(tmp_path / "user")}}}]}]})
    assert errors == ["receivers[0].webhook_configs[0].http_config.basic_auth.username_file: "
                      "set username or username_file, not both"]
