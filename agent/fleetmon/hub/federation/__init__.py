"""Federation: a central hub that sees every site's hosts and alerts through bridged site brokers.

A site runs its own broker and hub. Its broker bridges the site hub's fleet view, its active alerts and its
status to the central broker under ``<prefix>/sites/<site>/``, and mosquitto's bridge notification tells the
center whether the link is up. The central hub (``federation:`` in its config) reads those topics: it shows
each site's hosts with their site, routes the sites' alerts with a ``site`` label (or leaves that to the
site hubs), and when a site falls silent it raises one alert about the site, never one per host: the
center cannot see a site's hosts, only the site's verdict on them.
"""
