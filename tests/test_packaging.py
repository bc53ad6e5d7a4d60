"""The two ways to build the environment name the same packages."""

import re
import tomllib

import yaml

from conftest import REPO


def normalise(requirement: str) -> str:
    name, rest = re.match(r"([A-Za-z0-9_.\-]+)(.*)", requirement.strip()).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + rest.replace(" ", "")


def test_environment_yml_and_pyproject_agree():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    environment = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    from_conda = {normalise(r) for r in pip_section if not r.startswith("-e")}
    assert from_conda == declared
    assert "-e ." in pip_section


def test_every_dependency_is_pinned_and_torch_is_the_cpu_release():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert all("==" in r for r in project["dependencies"])
    assert "torch==2.13.0" in project["dependencies"]


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make study" in readme and "make test" in readme
