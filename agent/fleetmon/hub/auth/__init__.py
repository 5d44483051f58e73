"""Users, roles, sessions and the audit log of the hub's HTTP API and console (docs/hub.md, "Users and sessions").

The decision of who may do what is fleetmon.hub.auth.policy; who is asking, fleetmon.hub.auth.authority; the
middleware applies both to every request and audits the changes.
"""
