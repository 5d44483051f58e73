"""The footprint benchmarks' agent is the deployed one: the role's venv contents and the unit's command line."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from agent_install import agent_requirements, install, unit_command


def test_the_real_unit_starts_the_venvs_console_script(tmp_path):
    launch = unit_command(tmp_path / "venv", tmp_path / "agent.yml")
    assert launch.argv == [str(tmp_path / "venv" / "bin" / "fleetmon"), "agent", "run", "--config",
                           str(tmp_path / "agent.yml")]
    assert "PATH" in launch.env and "PYTHONPATH" not in launch.env


def test_interpreter_flags_and_environment_lines_are_taken_as_systemd_gives_them(tmp_path):
    template = tmp_path / "unit.j2"
    template.write_text("{{ ansible_managed | comment }}\n[Service]\n"
                        'Environment="MALLOC_ARENA_MAX=2" PYTHONHASHSEED=0\n'
                        "Environment=PYTHONFAULTHANDLER=1\n"
                        "ExecStart={{ _fleetmon_agent_venv }}/bin/python -X frozen_modules=on "
                        "{{ _fleetmon_agent_venv }}/bin/fleetmon agent run "
                        "--config {{ _fleetmon_agent_config_file }}\n")
    launch = unit_command(Path("/v"), Path("/c.yml"), template)
    assert launch.argv == ["/v/bin/python", "-X", "frozen_modules=on", "/v/bin/fleetmon", "agent", "run",
                           "--config", "/c.yml"]
    assert {k: v for k, v in launch.env.items() if k != "PATH"} == {
        "MALLOC_ARENA_MAX": "2", "PYTHONHASHSEED": "0", "PYTHONFAULTHANDLER": "1"}


def test_a_variable_the_benchmark_cannot_stand_for_is_refused(tmp_path):
    template = tmp_path / "unit.j2"
    template.write_text("ExecStart={{ _fleetmon_agent_venv }}/bin/fleetmon agent run --log-level {{ level }}\n")
    with pytest.raises(ValueError, match="cannot render"):
        unit_command(Path("/v"), Path("/c.yml"), template)


def test_the_venv_holds_the_agents_requirements_and_fleetmon_compiled_and_nothing_else(tmp_path):
    assert agent_requirements() == ["paho-mqtt", "psutil", "PyYAML"]
    python = install(sys.executable, tmp_path / "venv")
    version = subprocess.run([str(tmp_path / "venv" / "bin" / "fleetmon"), "--version"], capture_output=True,
                             text=True, check=True)
    assert version.stdout.startswith("fleetmon ")
    probe = subprocess.run([str(python), "-c", "import importlib.util as u, paho.mqtt.client, psutil, yaml, "
                            "fleetmon.agent.daemon as d; print(d.__file__, d.__cached__); "
                            "print(u.find_spec('pytest'), u.find_spec('pynvml'))"],
                           capture_output=True, text=True, check=True)
    module, cached = probe.stdout.splitlines()[0].split()
    assert module.startswith(str(tmp_path / "venv")) and Path(cached).is_file()
    assert probe.stdout.splitlines()[1] == "None None"  # dev packages of this venv stay out
