"""The agent installed and started as a deployed host has it, for the benchmarks that measure its footprint.

The role (roles/fleetmon_agent) gives the agent a venv holding requirements/agent.txt and the fleetmon wheel,
byte-compiled at install, and starts it with the unit's ExecStart and Environment=. Measuring it from a
developer's venv instead would count what a host never loads (nvidia-ml-py and the other dev packages, runpy
for `python -m`, compiling sources that have no .pyc) and miss what the unit sets. So ``install`` builds such
a venv from the distributions already installed in the interpreter's environment (no download), and
``unit_command`` reads ExecStart and Environment= from the unit's template.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence

ROOT = Path(__file__).resolve().parent.parent
UNIT_TEMPLATE = ROOT / "roles" / "fleetmon_agent" / "templates" / "fleetmon-agent.service.j2"
#: What the template's variables stand for here.
VENV_VARIABLE = "_fleetmon_agent_venv"
CONFIG_VARIABLE = "_fleetmon_agent_config_file"

_LIST_FILES = """
import importlib.metadata as metadata, json, sys
out = {}
for name in sys.argv[1:]:
    dist = metadata.distribution(name)
    out[name] = [str(dist.locate_file(f)) for f in dist.files if not str(f).startswith("..")]
print(json.dumps(out))
"""

# What pip writes for the project's console script `fleetmon = "fleetmon.cli:main"`.
_CONSOLE_SCRIPT = """#!{python}
import sys
from fleetmon.cli import main
if __name__ == "__main__":
    sys.exit(main())
"""


class Launch(NamedTuple):
    argv: List[str]
    env: Dict[str, str]


def agent_requirements(path: Path = ROOT / "requirements" / "agent.txt") -> List[str]:
    """The distribution names of the agent's runtime requirements."""
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name = re.match(r"[A-Za-z0-9._-]+", line).group(0)
            if name not in names:
                names.append(name)
    return names


def install(python: str, target: Path, source: Path = ROOT, extra: Sequence[str] = ()) -> Path:
    """A venv at ``target`` on ``python``'s interpreter with the agent's requirements and the ``extra``
    distributions (as the role adds jetson-stats), copied from ``python``'s environment, and fleetmon from
    ``source``/agent, byte-compiled as pip does; returns its python."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(target)], check=True)
    venv_python = target / "bin" / "python"
    site = Path(subprocess.check_output(
        [str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    files = json.loads(subprocess.check_output([python, "-c", _LIST_FILES, *agent_requirements(), *extra],
                                               text=True))
    for name, paths in files.items():
        base = _common_site(paths, name)
        for path in paths:
            destination = site / Path(path).relative_to(base)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    shutil.copytree(source / "agent" / "fleetmon", site / "fleetmon",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([str(venv_python), "-m", "compileall", "-q", "-j", "0", str(site)], check=True,
                   env=dict(os.environ, PYTHONDONTWRITEBYTECODE=""))
    script = target / "bin" / "fleetmon"
    script.write_text(_CONSOLE_SCRIPT.format(python=venv_python))
    script.chmod(0o755)
    return venv_python


def _common_site(paths: List[str], name: str) -> Path:
    """The site-packages directory the distribution's files lie under (its dist-info's parent)."""
    for path in paths:
        parent = Path(path).parent
        if parent.name.endswith(".dist-info"):
            return parent.parent
    raise RuntimeError(f"{name}: no dist-info among its files")


def unit_command(venv: Path, config: Path, template: Path = UNIT_TEMPLATE) -> Launch:
    """ExecStart and Environment= of the unit with this venv and config; the environment is the unit's, on top
    of PATH only (systemd gives a service no other variables of the caller)."""
    values = {VENV_VARIABLE: str(venv), CONFIG_VARIABLE: str(config)}

    def render(text: str) -> str:
        rendered = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), text)
        if "{{" in rendered or "{%" in rendered:
            raise ValueError(f"{template.name}: cannot render {text!r} here")
        return rendered

    argv: List[str] = []
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")}
    for line in template.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "ExecStart":
            argv = shlex.split(render(value))
        elif key == "Environment":
            for assignment in shlex.split(render(value)):
                name, _, setting = assignment.partition("=")
                env[name] = setting
    if not argv:
        raise ValueError(f"{template.name} has no ExecStart")
    return Launch(argv, env)
