"""Multi-location journeys end to end: three real agents (probe hosts) run one journey against the shop
(tests/agent/test_journey.py), the real hub judges them. The shop fails for one probe, then for two; each
probe sends its host id in X-Probe, so the shop can tell them apart."""

import pytest

from tests.agent.journey_shop import PASSWORD, ShopApp, shop_journey
from tests.polling import wait_until

PROBES = ("probe-a", "probe-b", "probe-c")


@pytest.fixture
def shop():
    app = ShopApp().start()
    yield app
    app.stop()


def journey_alerts(hub):
    return [a for a in hub.get("/api/v1/alerts")["alerts"] if a["labels"]["alertname"] == "JourneyFailing"]


def test_a_journey_alert_needs_two_failing_locations(start_agent, start_hub, shop, tmp_path):
    password = tmp_path / "journey.pass"
    password.write_text(PASSWORD + "\n")
    hub = start_hub()
    for probe in PROBES:
        start_agent({"host_id": probe, "labels": {"site": probe[-1]},
                     "checks": {"shop": shop_journey(shop.url, password, probe=probe)}}, probe)

    def shop_results():
        """Each probe's latest shop result as the hub holds it, once it holds one of every probe."""
        details = {probe: hub.get(f"/api/v1/hosts/{probe}") for probe in PROBES}
        results = {probe: (detail or {}).get("checks", {}).get("shop") for probe, detail in details.items()}
        return results if all(results.values()) else None

    def seen(failing):
        """The hub's latest results, once they fail for exactly the probes in ``failing``."""
        results = shop_results()
        return results if results and all(results[p]["ok"] == (p not in failing) for p in PROBES) else None

    wait_until(lambda: seen(set()), timeout=40, message="a passing journey from every probe in the hub")

    shop.failing_probes = {"probe-a"}
    results = wait_until(lambda: seen({"probe-a"}), timeout=20, message="probe-a failing, the others passing")
    assert results["probe-a"]["message"].startswith("step 3 (orders) failed: GET ")
    hub.wait_for_rule_evaluations()  # whatever the rules would raise about one failing probe, they have by now
    assert journey_alerts(hub) == []

    shop.failing_probes = {"probe-a", "probe-b"}
    [alert] = wait_until(lambda: journey_alerts(hub), timeout=20, message="JourneyFailing")
    assert alert["labels"] == {"alertname": "JourneyFailing", "check": "shop", "severity": "critical"}
    assert alert["annotations"]["locations"] == "probe-a, probe-b"
    assert alert["annotations"]["passing_locations"] == "probe-c"
    failing_steps = alert["annotations"]["failing_steps"]
    assert failing_steps.startswith("probe-a: step 3 (orders): GET ")
    assert "; probe-b: step 3 (orders): " in failing_steps
    assert "orders backend unavailable for probe-b" in failing_steps

    shop.failing_probes = set()
    wait_until(lambda: journey_alerts(hub) == [], timeout=20, message="JourneyFailing resolved")
