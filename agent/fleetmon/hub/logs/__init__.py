"""Log lines from the hosts' journals: stored with a full-text index, searched, tailed live and alerted on
(docs/hub.md "Log storage" and "Log rules").

    logs = parse_logs(root.child("logs"))                         # in fleetmon.hub.config
    store = LogStore(config.logs_db, config.logs)                  # logs.db beside the history
    store.take(message.host, message.body)                         # the intake, for each accepted logs message
    evaluate_log_rules(config.logs.rules, store, host_groups, now, search_base)   # FleetAlerts, each rules round
    log_routes(store, host_groups)                                 # GET /api/v1/logs, /api/v1/logs/stream
    LogCollector(store.figures)                                    # on /metrics

config (the ``logs:`` section), search (queries, lines, priorities, the text's syntax), schema (the file),
writer (the writer thread: queue, transactions, retention), reads (the SQL of each read), store (all of it
together), rules (log rules as fleet alerts), metrics, params (the API's parameters), api, live (the SSE
tail) and cli (``fleetmon logs``).
"""
