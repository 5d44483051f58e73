"""Following the systemd journal: the ``logs:`` config (config), journalctl as a child process (journal),
which entries are kept (filters), the per-unit rate limit (ratelimit), redaction (redact), batching
(batch), delivery to the broker or the log spool with the resume cursor (delivery, cursor), and the
thread that joins them (shipper)."""
