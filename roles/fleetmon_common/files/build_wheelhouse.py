#!/usr/bin/env python3
"""Build a wheelhouse on the controller for one target (Python version, architecture): targets install
from it with `pip install --no-index --find-links`, so they need no internet.

  build_wheelhouse.py --source CHECKOUT --requirements FILE --python 3.11 --arch x86_64 --out DIR [--extra REQ ...]

- Requirements are resolved for the *target* Python: environment markers (paho-mqtt 2.1 for 3.8, 2.2 for
  3.9+) are evaluated here against the target, then `pip download --only-binary=:all: --platform ...`.
- fleetmon itself is built as a wheel from CHECKOUT, again only when its sources changed (their hash is
  kept in DIR/.fleetmon-source; --hash-ignore leaves subpackages out of it), so the wheel file stays
  byte-identical between runs and a re-deploy changes nothing.
- DIR/requirements.txt lists what the target installs. Prints "changed" when something was (re)built.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

PLATFORMS = {  # manylinux tags pip may pick for each architecture (glibc 2.17 and later)
    "x86_64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
               "manylinux_2_12_x86_64", "manylinux2010_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"],
    "aarch64": ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"],
}


def requirement_lines(path):
    """The lines of a requirements file, following `-r other.txt` includes."""
    for line in Path(path).read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            yield from requirement_lines(Path(path).parent / line.split(None, 1)[1])
        elif line and not line.startswith(("#", "-")):
            yield line


def target_requirements(path, python, arch, extra):
    env = {"python_version": python, "python_full_version": python + ".0", "platform_machine": arch,
           "sys_platform": "linux", "os_name": "posix", "platform_system": "Linux",
           "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    wanted = []
    for line in [*requirement_lines(path), *extra]:
        requirement = Requirement(line)
        if requirement.marker is None or Marker(str(requirement.marker)).evaluate(env):
            requirement.marker = None
            wanted.append(str(requirement))
    return wanted


def source_hash(source, ignore=()):
    """A hash of the package sources, leaving out subpackages this target does not run (the agent's
    wheelhouse ignores fleetmon/hub: hub work must not restart every agent)."""
    digest = hashlib.sha256()
    root = source / "agent" / "fleetmon"
    skipped = tuple(root / name for name in ignore)
    package = sorted(p for p in root.rglob("*")
                     if p.is_file() and p.suffix in (".py", ".json") and not any(s in p.parents for s in skipped))
    files = [source / "pyproject.toml", *package]
    for path in files:
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True, type=Path)
    parser.add_argument("--requirements", required=True)
    parser.add_argument("--python", required=True, help="target Python, e.g. 3.11")
    parser.add_argument("--arch", required=True, choices=sorted(PLATFORMS))
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--extra", action="append", default=[], help="another requirement (e.g. jetson-stats)")
    parser.add_argument("--hash-ignore", action="append", default=[],
                        help="subpackage of fleetmon whose changes do not rebuild the wheel (e.g. hub)")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    changed = False

    wanted = target_requirements(args.requirements, args.python, args.arch, args.extra)
    listing = "".join(line + "\n" for line in wanted)
    stamp = out / ".requirements"
    if not stamp.exists() or stamp.read_text() != listing:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                   "--only-binary=:all:", "--implementation", "cp", "--python-version", args.python,
                   "--dest", str(out)]
        for platform in PLATFORMS[args.arch]:
            command += ["--platform", platform]
        subprocess.run(command + wanted, check=True)
        stamp.write_text(listing)
        changed = True

    source = args.source.resolve()
    digest = source_hash(source, args.hash_ignore)
    source_stamp = out / ".fleetmon-source"
    if not source_stamp.exists() or source_stamp.read_text() != digest or not list(out.glob("fleetmon-*.whl")):
        with tempfile.TemporaryDirectory() as tmp:
            # Build from a copy: the checkout gets no build/ or egg-info litter.
            tree = Path(tmp) / "src"
            tree.mkdir()
            for name in ("pyproject.toml", "README.md"):
                shutil.copy2(source / name, tree / name)
            shutil.copytree(source / "agent", tree / "agent",
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
            env = dict(os.environ, SOURCE_DATE_EPOCH="315532800")
            subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                            "--no-deps", "--wheel-dir", str(Path(tmp) / "dist"), str(tree)], check=True, env=env)
            for old in out.glob("fleetmon-*.whl"):
                old.unlink()
            for wheel in (Path(tmp) / "dist").glob("fleetmon-*.whl"):
                shutil.copy2(wheel, out / wheel.name)
        source_stamp.write_text(digest)
        changed = True

    install_list = out / "requirements.txt"
    if not install_list.exists() or install_list.read_text() != listing + "fleetmon\n":
        install_list.write_text(listing + "fleetmon\n")
        changed = True
    print("changed" if changed else "ok")


if __name__ == "__main__":
    main()
