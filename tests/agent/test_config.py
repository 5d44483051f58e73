"""The agent config schema: defaults, overrides, and errors that name their key path."""

import pytest

from fleetmon.agent.config import default_host_id, load_config, parse_config
from fleetmon.config_reader import ConfigError
from fleetmon.mqtt.broker import DEFAULT_BROKER


def errors_of(document):
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    return caught.value.errors


def test_no_file_at_all_gives_a_working_default():
    config = load_config(None)
    assert config.broker.url == DEFAULT_BROKER and config.broker.port == 1883 and not config.broker.uses_tls
    assert config.host_id == default_host_id() and config.interval == 10.0
    assert config.collectors.jetson.enabled == "auto" and config.thresholds == [] and config.checks == []


def test_command_line_overrides_win_over_the_file(tmp_path):
    path = tmp_path / "agent.yml"
    path.write_text("host_id: from-file\ninterval: 30s\nbroker: {url: 'mqtt://10.0.0.1', username: u}\n")
    config = load_config(str(path), {"host_id": "from-flag", "interval": 2, "broker_url": "mqtts://hub:9883"})
    assert (config.host_id, config.interval) == ("from-flag", 2.0)
    assert config.broker.url == "mqtts://hub:9883" and config.broker.port == 9883 and config.broker.uses_tls
    assert config.broker.username == "u", "an override replaces one key, not its section"


def test_durations_sizes_and_the_password_file(tmp_path):
    secret = tmp_path / "pass"
    secret.write_text("s3cret\n")
    config = parse_config({"interval": "500ms", "spool": {"max_bytes": "8MiB", "max_samples": 10},
                           "broker": {"password_file": str(secret), "protocol": "3.1.1",
                                      "reconnect": {"max_delay": "2m"}}})
    assert config.interval == 0.5 and config.spool.max_bytes == 8 * 1024 * 1024
    assert config.broker.password == "s3cret" and config.broker.protocol == "3.1.1"
    assert config.broker.reconnect_max_delay == 120.0


def test_every_error_is_reported_with_its_key_path(tmp_path):
    errors = errors_of({
        "host_id": "has/slash", "interval": 0, "labels": {"bad-name": "x", "__reserved": "y"},
        "broker": {"protocol": 4, "url": "mqtt://h:99999", "password_file": str(tmp_path / "missing"),
                   "tls": {"cert_file": "/etc/hostname"}},
        "spool": {"max_bytes": "lots"}, "collectors": {"jetson": {"source": "replay"}, "nvml": {"enabled": "yes"}},
        "surprise": 1,
    })
    text = "\n".join(errors)
    for expected in ("host_id: 'has/slash' does not match", "interval: must be at least 0.1",
                     "labels.bad-name: label names must match", "labels.__reserved: label names",
                     "broker.protocol: must be 5 or 3.1.1", "broker.url: has a bad port",
                     "broker.password_file: cannot read", "broker.tls: cert_file and key_file go together",
                     "spool.max_bytes: must be a size", "collectors.jetson.replay_file: is required",
                     "collectors.nvml.enabled: must be true, false or auto", "surprise: unknown key"):
        assert expected in text, expected
