"""The hub's HTTP side (Starlette): app.py assembles /metrics, the health probes and the API from the
parts it is given; fleet_api.py serves the fleet (hosts, groups, history queries, the hub's own figures),
dashboard.py the page in static/ and its layout; the alerting API is fleetmon.hub.alerting.api.

Nothing here knows the running hub: each route factory receives the objects it reads."""
