# The npm tree of package-lock.json. The hub console's one third-party library, uPlot (its charts), is copied
# into the console's static files so the hub serves it and the wheel carries it: no CDN, hubs are often
# air-gapped. Its devDependencies serve the tests: Grafana's dashboard schema (@grafana/schema) and the
# TypeScript compiler that checks the rendered dashboards against it (tests/grafana_schema/, run by
# tests/deploy/test_dashboards.py). Included by the top-level Makefile.
CONSOLE_VENDOR := agent/fleetmon/hub/web/static/vendor
CONSOLE_VENDOR_FILES := $(CONSOLE_VENDOR)/uPlot.esm.js $(CONSOLE_VENDOR)/uPlot.min.css

.PHONY: console console-deps

console: $(CONSOLE_VENDOR_FILES)

# NodeSource's nodejs carries its own npm and conflicts with Debian's npm package: ask for the command, not a package.
console-deps:
	@command -v npm >/dev/null 2>&1 || { echo "installing: nodejs npm"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; }

# npm ci removes node_modules first: the stamp written after it says the tree matches the lockfile.
node_modules/.installed: package.json package-lock.json | console-deps
	npm ci --no-audit --no-fund
	touch $@

$(CONSOLE_VENDOR)/uPlot.esm.js: node_modules/.installed
	mkdir -p $(CONSOLE_VENDOR)
	cp node_modules/uplot/dist/uPlot.esm.js $@

$(CONSOLE_VENDOR)/uPlot.min.css: node_modules/.installed
	mkdir -p $(CONSOLE_VENDOR)
	cp node_modules/uplot/dist/uPlot.min.css $@
