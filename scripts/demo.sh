#!/usr/bin/env bash
# `make demo`: the lab's four hosts (broker and hub, two servers, a Jetson replaying tegrastats) deployed
# with site.yml exactly as a fleet would be, alerts routed to a webhook sink on this machine.
# `make demo-down` (scripts/demo.sh down) stops the sink; the Makefile then removes the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
state=build/demo
bridge=${LAB_NET:-10.213.0}.1
sink="$bridge:9099"
deploy_env=(env PATH="$PWD/.venv-deploy/bin:$PATH" ANSIBLE_ROLES_PATH="$PWD/roles")

stop_sink() {
    if [ -f "$state/sink.pid" ]; then
        kill "$(cat "$state/sink.pid")" 2>/dev/null || true
        rm -f "$state/sink.pid"
    fi
}

case "${1:-up}" in
up)
    mkdir -p "$state"
    stop_sink
    setsid .venv/bin/python scripts/webhook_sink.py --listen "$sink" --log "$state/sink.log" \
        </dev/null >"$state/sink.out" 2>&1 &
    echo $! >"$state/sink.pid"
    cat >"$state/demo-vars.yml" <<YAML
# Written by scripts/demo.sh: the demo's alert routing (every alert to the local webhook sink).
fleetmon_agent_interval: 5s
fleetmon_hub_alerting:
  route:
    receiver: demo-sink
    group_by: [alertname, host]
    group_wait: 10s
    group_interval: 1m
    repeat_interval: 1h
  receivers:
    - name: demo-sink
      webhook_configs: [{url: "http://$sink/hook"}]
YAML
    "${deploy_env[@]}" ansible-playbook -i inventory/lab site.yml -e "@$state/demo-vars.yml"
    hub=$(awk '/^    lab1:/{getline; print $2}' inventory/lab/hosts.yml)
    # The lab's controller side (inventory/lab/group_vars/hub.yml): the fleet CA that signed the hub's
    # certificate and the console users' passwords the play generated there.
    secrets=inventory/lab/.fleetmon
    ca=$secrets/ca.crt
    (umask 077 && lab/lab.sh ssh lab1 cat /etc/fleetmon-hub/api.token </dev/null | tr -d '\r' >"$state/api.token")
    cat <<TEXT

fleetmon demo is up: a broker and hub on lab1, agents on lab2..lab4 (lab4 is a Jetson replaying tegrastats).
  console          https://$hub:9180/   log in as admin, password $(cat "$secrets/console-admin.password")
                   (or as viewer, password $(cat "$secrets/console-viewer.password"): reads only)
  trust the CA     the hub's certificate is signed by the lab's CA, $ca: import it into the browser's
                   certificate authorities (or accept its warning once); curl needs --cacert $ca
  fleet table      .venv/bin/fleetmon status --hub https://$hub:9180 --ca-file $ca --token-file $state/api.token --watch
  alerts           .venv/bin/fleetmon alerts --hub https://$hub:9180 --ca-file $ca --token-file $state/api.token
  webhook sink     tail -f $state/sink.out      (every notification; JSON lines in $state/sink.log)
  Prometheus       curl --cacert $ca https://$hub:9180/metrics   (Grafana and rules: $secrets/rendered/)
  try              lab/lab.sh stop lab3    -> HostDown at the sink;   lab/lab.sh start lab3 -> resolved
  API token        $state/api.token   (an admin token: fleetmon ack / silence take it the same way; curl -H "Authorization: Bearer ...")
  stop             make demo-down
TEXT
    ;;
down)
    stop_sink
    rm -f "$state/api.token"
    ;;
*)
    echo "usage: $0 [up|down]" >&2
    exit 2
    ;;
esac
