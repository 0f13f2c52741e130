"""The environment files agree, and the command line is wired up."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest
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


def test_pyproject_stays_installable_beside_the_ci_torch():
    # torch 2.14.1 / torchvision 0.29.1 is the pair CI installs; the ranges must admit it.
    reqs = _pyproject_requirements()
    assert reqs["pytorch"].specifier.contains("2.14.1")
    assert reqs["torchvision"].specifier.contains("0.29.1")


def test_help_lists_the_subcommands():
    result = subprocess.run([sys.executable, "-m", "srgan_edu", "--help"], capture_output=True, text=True, check=True)
    for command in ("evaluate", "download", "train", "benchmark"):
        assert command in result.stdout


def test_console_script_is_installed():
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("srgan-edu") == "srgan_edu.cli:main"


@pytest.mark.parametrize("command", ["evaluate", "download", "train", "benchmark"])
def test_each_subcommand_has_help(command):
    result = subprocess.run([sys.executable, "-m", "srgan_edu", command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
