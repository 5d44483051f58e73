"""Incidents: alerts grouped into something people own, work through a lifecycle and close with a postmortem
(docs/incidents.md). The book (book.py) keeps them; the ledger (ledger.py) says where an alert goes; the
lifecycle (lifecycle.py) which moves are allowed; stats.py and postmortem.py read them; api.py and cli.py
serve them."""
