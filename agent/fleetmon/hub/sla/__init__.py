"""SLOs and SLA reports (docs/sla.md): availability, downtime, error budgets and burn-rate alerts per SLO.

    slos = parse_slos(root.child("slos"), alerting.time_intervals)      # in fleetmon.hub.config
    engine = SLAEngine(slos, history_path, ledger_path, members, live, maintenance, intervals, silent_after)
    engine.update(now)                  # every rules round: the presence ledger follows the history
    engine.burn_alerts(now)             # FleetAlerts for the fleet's ActiveAlerts
    sla_routes(engine)                  # GET /api/v1/sla, /api/v1/sla/{name}/report, /api/v1/sla/{name}/budget

config (the SLO objects), spans (sets of time), periods (calendar periods), ledger (when each host
sampled, persisted), sli (what each second of a member was), report (the figures), burn (the alert rules),
sources (the history's reads), engine (all of it together), api and cli.
"""
