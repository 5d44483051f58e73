"""Controller-side tools that read the Ansible inventory: where each host's thresholds come from
(``fleetmon thresholds explain``), and the Grafana dashboards and Prometheus rules rendered from them
(``fleetmon render dashboards``). Python 3.10+: this runs on the controller, never on a host.
"""
