"""The MQTT contract shared by the agent and the hub: topics, payloads, metric names.

docs/protocol.md describes it for people; schemas/*.json for machines.
"""

SCHEMA_VERSION = 1
DEFAULT_PREFIX = "fleetmon/v1"
