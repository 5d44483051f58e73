"""Maintenance windows: planned downtime of hosts, groups or matcher sets, one-off or recurring.

windows.py is what a window is and when and whom it covers; calendar.py keeps the windows of the config and
of the API (in the alerting database), mutes alerts inside them for the dispatcher and tells the SLA reports
which time to exclude; api.py and cli.py are the HTTP API and `fleetmon maintenance`. docs/maintenance.md.
"""
