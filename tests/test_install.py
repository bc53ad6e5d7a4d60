"""An installed toolkit, not this checkout: built as a wheel, installed into an environment of its
own, it runs a study from a folder that holds nothing but the study's parameters file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from conftest import PARAMETERS, REPO


def run(command, **kwargs) -> subprocess.CompletedProcess:
    finished = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return finished


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel of this checkout, built from a copy of it (the build leaves `build/` behind) with
    this environment's setuptools (nothing downloaded)."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    unneeded = shutil.ignore_patterns(".*", "build", "runs", "figures", "tests", "*.egg-info", "__pycache__")
    shutil.copytree(REPO, source, symlinks=True, ignore=unneeded)
    build = ["--no-deps", "--no-build-isolation", "--quiet", "--wheel-dir", str(folder)]
    run([sys.executable, "-m", "pip", "wheel", *build, str(source)])
    (built,) = folder.glob("scale_or_reason-*.whl")
    return built


def test_the_wheel_carries_what_a_study_needs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    notebooks = {name for name in names if name.startswith("scale_or_reason/notebooks/")}
    assert {Path(name).name for name in notebooks} == {
        path.name for path in (REPO / "notebooks").glob("*.ipynb")
    }
    assert {
        "scale_or_reason/accelerate_configs/fsdp.yaml",
        "scale_or_reason/accelerate_configs/zero3.yaml",
        "scale_or_reason/accelerate_configs/ddp.yaml",
    } <= names
    assert "scale_or_reason/model_configs/qwen2.5-7b.json" in names


@pytest.mark.slow
def test_an_installed_package_runs_the_smoke_study_from_a_folder_of_its_own(wheel, tmp_path):
    environment = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(environment)])
    python = environment / "bin" / "python"
    site = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    )
    # Its dependencies come from this environment's site-packages (a plain path: its .pth files,
    # this checkout's editable install among them, are not read there); the toolkit from the wheel.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([str(python), "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)])  # pip, too, from here
    imported = run([str(python), "-c", "import scale_or_reason; print(scale_or_reason.__file__)"]).stdout
    assert imported.startswith(str(site)), imported

    project = tmp_path / "my-study"
    project.mkdir()
    shutil.copy(PARAMETERS / "smoke.yaml", project / "smoke.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOR_")}
    env["HF_HUB_OFFLINE"] = "1"
    run([str(environment / "bin" / "sor"), "study", "smoke.yaml"], cwd=project, env=env, timeout=900)

    results = pd.read_csv(project / "runs" / "smoke" / "results.csv")
    assert len(results) == 6 * 5 and results["accuracy"].between(0, 1).all()
    executed = next((project / "runs" / "smoke" / "train").glob("tiny-ift-*/02_train.ipynb"))
    assert json.loads(executed.read_text())["metadata"]["papermill"]["input_path"].startswith(str(site))
    assert sorted(p.name for p in project.iterdir()) == ["runs", "smoke.yaml"]
