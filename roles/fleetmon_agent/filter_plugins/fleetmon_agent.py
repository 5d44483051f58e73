"""Preflight checks of the agent's thresholds and checks on the controller, with messages that name the
inventory layer a bad value came from. The agent's own `check-config` (the template's validate) remains
the authority; this catches the common mistakes before anything on the host changes.

Also the units the agent's restart_unit recovery may restart, for the polkit rule that allows exactly those, and
the problems of the journey secrets the role writes into files (named by key, never by value).
"""

import re

RULE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
CHECK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# A file name in the secrets directory: no path separator, no leading dot (no ".", "..", hidden files).
SECRET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _level(value, ratio):
    """A level as a float, or None when it is not a number (or a percentage for _ratio metrics)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if ratio and isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100.0
        except ValueError:
            return None
    return None


def _origin(layers, rule, key):
    """Which inventory variable set this field last (layers are in merge order)."""
    found = "fleetmon_agent_thresholds_defaults"
    for name, layer in layers:
        if isinstance(layer, dict) and isinstance(layer.get(rule), dict) and key in layer[rule]:
            found = name
    return found


def fleetmon_threshold_errors(thresholds, catalog, layers=None):
    """Every problem in the merged thresholds, as sentences a user can act on."""
    layers = [(item[0], item[1]) for item in (layers or [])]
    errors = []
    aliases, metrics = catalog["aliases"], catalog["metrics"]
    if not isinstance(thresholds, dict):
        return ["thresholds must be a mapping of rule name to settings"]
    for name, rule in sorted(thresholds.items()):
        where = f"thresholds.{name}"
        if not RULE_NAME.match(str(name)):
            errors.append(f"{where}: rule names start with a letter and hold only letters, digits, _ and -")
        if not isinstance(rule, dict):
            errors.append(f"{where}: must be a mapping (got {rule!r})")
            continue
        unknown = sorted(set(rule) - set(catalog["rule_keys"]))
        if unknown:
            errors.append("{}: unknown keys {} (set in {}); known: {}".format(
                where, ", ".join(unknown), _origin(layers, name, unknown[0]), ", ".join(catalog["rule_keys"])))
        alias = aliases.get(name)
        metric = rule.get("metric") or (alias["metric"] if alias else None)
        scraped = bool(rule.get("scraped", False))
        if not metric:
            errors.append("{}: {!r} is not a built-in alias ({}); set metric: to a catalogue metric".format(
                where, name, ", ".join(aliases)))
            continue
        if not scraped and metric not in metrics:
            errors.append("{}.metric: unknown metric {!r} (set in {}): not in the agent's catalogue "
                          "(docs/metrics.md); set scraped: true for an application metric".format(
                              where, metric, _origin(layers, name, "metric")))
            continue
        direction = rule.get("direction") or (alias["direction"] if alias else "above")
        if direction not in ("above", "below"):
            errors.append(f"{where}.direction: must be above or below (got {direction!r})")
            continue
        ratio = str(metric).endswith("_ratio")
        levels = {}
        for severity in ("warning", "critical"):
            if severity in rule:
                level = _level(rule[severity], ratio)
                if level is None:
                    errors.append("{}.{}: {!r} (set in {}) must be a number{}".format(
                        where, severity, rule[severity], _origin(layers, name, severity),
                        " or a percentage like '85%'" if ratio else ""))
                else:
                    levels[severity] = level
        if rule.get("enabled", True) and "warning" not in rule and "critical" not in rule:
            errors.append(f"{where}: needs a warning or a critical level (or enabled: false)")
        if len(levels) == 2:
            warning, critical = levels["warning"], levels["critical"]
            if (direction == "above" and warning > critical) or (direction == "below" and warning < critical):
                errors.append("{}: warning {!r} (set in {}) is {} critical {!r} (set in {}); with direction {} the "
                              "warning level must come first".format(
                                  where, rule["warning"], _origin(layers, name, "warning"),
                                  "above" if direction == "above" else "below", rule["critical"],
                                  _origin(layers, name, "critical"), direction))
        match = rule.get("match") or {}
        if not scraped and isinstance(match, dict):
            bad = sorted(set(match) - set(metrics[metric] or []))
            if bad:
                errors.append("{}.match: {} not a label of {} (its labels: {})".format(
                    where, ", ".join(bad), metric, ", ".join(metrics[metric] or []) or "none"))
    return errors


def fleetmon_check_errors(checks, catalog):
    errors = []
    if not isinstance(checks, dict):
        return ["checks must be a mapping of check name to settings"]
    for name, check in sorted(checks.items()):
        where = f"checks.{name}"
        if not CHECK_NAME.match(str(name)):
            errors.append(f"{where}: check names hold only letters, digits, _, . and -")
        if not isinstance(check, dict) or check.get("type") not in catalog["check_types"]:
            errors.append("{}.type: must be one of {}".format(where, ", ".join(catalog["check_types"])))
    return errors


# systemctl appends .service to a name without one of these suffixes before it asks systemd (and polkit).
UNIT_TYPES = ("service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice",
              "scope")


def _unit_on_the_bus(name):
    stem, dot, suffix = name.rpartition(".")
    return name if dot and stem and suffix in UNIT_TYPES else name + ".service"


def fleetmon_restart_units(checks):
    """The units of the checks' restart_unit recovery (the check's own unit when recovery names none), as
    systemd names them to polkit: sorted, each once."""
    units = set()
    for check in checks.values() if isinstance(checks, dict) else ():
        recovery = check.get("recovery") if isinstance(check, dict) else None
        if not isinstance(recovery, dict) or recovery.get("action") != "restart_unit":
            continue
        unit = recovery.get("unit") or (check.get("unit") if check.get("type") == "systemd" else None)
        if isinstance(unit, str) and unit:
            units.add(_unit_on_the_bus(unit))
    return sorted(units)


def fleetmon_secret_errors(secrets):
    """Every problem of ``fleetmon_agent_secrets`` (file name -> value), as sentences naming the key; never a value.
    The agent takes a secret file's first line, and refuses an empty one, so a value is one non-empty line."""
    if not isinstance(secrets, dict):
        return ["fleetmon_agent_secrets must be a mapping of secret file name to value"]
    errors = []
    for name, value in sorted(secrets.items(), key=lambda item: str(item[0])):
        where = f"fleetmon_agent_secrets[{str(name)!r}]"
        if not SECRET_NAME.fullmatch(str(name)):
            errors.append(f"{where}: secret names are file names: a letter or digit, then letters, digits, "
                          "., _ and -")
        if not isinstance(value, str):
            errors.append(f"{where}: the value must be a string (quote numbers and words such as yes or no), "
                          "typically a vault variable")
        elif not value:
            errors.append(f"{where}: the value is empty; set it from a vault variable")
        elif "\n" in value or "\r" in value:
            errors.append(f"{where}: the value holds a line break; the agent reads only the first line")
    return errors


class FilterModule:
    def filters(self):
        return {"fleetmon_threshold_errors": fleetmon_threshold_errors, "fleetmon_check_errors": fleetmon_check_errors,
                "fleetmon_restart_units": fleetmon_restart_units, "fleetmon_secret_errors": fleetmon_secret_errors}
