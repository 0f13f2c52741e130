"""The environment files agree, and the command line is wired up."""

from __future__ import annotations

import subprocess
import sys

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
import yaml
from packaging.requirements import Requirement
from rattler import MatchSpec

from srgan_edu.course import REPO_ROOT

# conda-forge names for the PyPI packages that are called differently there.
CONDA_NAMES = {"torch": "pytorch"}


def _pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["dev"]
    requirements = [Requirement(s) for s in specs]
    return {CONDA_NAMES.get(r.name.lower(), r.name.lower()): r for r in requirements}


def _environment_specs() -> dict[str, MatchSpec]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    specs = {}
    for item in env["dependencies"]:
        if isinstance(item, str):
            spec = MatchSpec(item)
            specs[spec.name.normalized] = spec
    return specs


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    pyproject = _pyproject_requirements()
    conda = _environment_specs()
    conda_packages = set(conda) - {"python", "pip"}
    assert conda_packages == set(pyproject), (
        f"only in environment.yml: {sorted(conda_packages - set(pyproject))}; "
        f"only in pyproject.toml: {sorted(set(pyproject) - conda_packages)}"
    )


def test_environment_yml_lower_bounds_match_pyproject():
    pyproject = _pyproject_requirements()
    conda = _environment_specs()
    for name, requirement in pyproject.items():
        conda_version = str(conda[name].version) if conda[name].version else ""
        assert conda_version == str(requirement.specifier), (
            f"{name}: environment.yml says {conda_version!r}, pyproject.toml says {str(requirement.specifier)!r}"
        )


def test_python_versions_agree():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    conda = _environment_specs()
    assert str(conda["python"].version) == project["requires-python"]


def _constraints() -> dict[str, Requirement]:
    lines = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    requirements = [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]
    return {CONDA_NAMES.get(r.name.lower(), r.name.lower()): r for r in requirements}


def test_constraints_pin_the_tested_torch_pair_inside_pyproject_ranges():
    # `make install` pins the pair CI is tested with (torch 2.14.1 / torchvision 0.29.1);
    # pyproject.toml's ranges must admit every pin, or pip would refuse to install.
    pins = _constraints()
    assert str(pins["pytorch"].specifier) == "==2.14.1"
    assert str(pins["torchvision"].specifier) == "==0.29.1"
    ranges = _pyproject_requirements()
    for name, pin in pins.items():
        version = str(pin.specifier).removeprefix("==")
        assert ranges[name].specifier.contains(version), f"constraints.txt pins {name} {version}, outside pyproject"


def test_make_install_uses_the_constraints():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in makefile


def test_help_lists_the_subcommands():
    result = subprocess.run([sys.executable, "-m", "srgan_edu", "--help"], capture_output=True, text=True, check=True)
    for command in ("evaluate", "download", "subimages", "train", "benchmark"):
        assert command in result.stdout


def test_console_script_is_installed():
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("srgan-edu") == "srgan_edu.cli:main"


@pytest.mark.parametrize("command", ["evaluate", "download", "subimages", "train", "benchmark"])
def test_each_subcommand_has_help(command):
    result = subprocess.run([sys.executable, "-m", "srgan_edu", command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
