#!/usr/bin/env bash
# `make run`: a private mosquitto on 127.0.0.1, the agent publishing to it every 2 s (with Jetson metrics
# replayed from a recorded Orin Nano log, so a laptop shows the Jetson side too), and a subscriber printing
# one line per message. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${FLEETMON_DEMO_PORT:-18830}
work=$(mktemp -d -t fleetmon-run.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT INT TERM

printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

cat > "$work/agent.yml" <<YAML
host_id: $(hostname -s | tr -c 'A-Za-z0-9._\n-' '-')
interval: 2s
groups: [demo]
labels: {site: local}
state_dir: $work/state
broker: {url: "mqtt://127.0.0.1:$port"}
collectors:
  jetson: {source: replay, replay_file: $PWD/tests/data/tegrastats/orin-nano-jp6.log}
thresholds:
  cpu: {warning: 80%, critical: 95%, for: 10s}
  memory: {warning: 90%}
  disk: {warning: 85%, critical: 95%}
checks:
  broker_port: {type: tcp, port: $port, interval: 10s}
YAML

echo "broker:     mqtt://127.0.0.1:$port   (follow it yourself: mosquitto_sub -p $port -t 'fleetmon/#' -v)"
echo "agent:      .venv/bin/fleetmon agent run --config $work/agent.yml"
echo "messages:   (Ctrl-C to stop)"
.venv/bin/fleetmon agent run --config "$work/agent.yml" > "$work/agent.log" 2>&1 &
.venv/bin/python scripts/show_messages.py --port "$port"
