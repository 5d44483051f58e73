"""Health checks: the config schema (spec), one probe per type (probes), results as metrics and the
checks message (results), and guarded recovery actions (recovery)."""
