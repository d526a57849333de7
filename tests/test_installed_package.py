"""An installed nelm-sim works outside the checkout (issue 20 item 5): the files it reads (parameter library,
targets, seed and validation scenarios, strategies) ship as package data and are found through
importlib.resources, never through the current folder.

The package is built as a wheel (pip wheel, offline: no build isolation) from a copy of the sources, the
wheel is installed with pip into a folder of its own, and the commands run from a folder outside the
checkout with only that installation of the package importable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from simulator.experiments.calibrate import load_targets, load_validation_targets
from simulator.reporting.seed_figures import SEED_FIGURES

from .conftest import ROOT


def data_files(package: Path) -> set[str]:
    """Every file of the package that is not Python source or bytecode, relative to the package."""
    return {
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".py", ".pyc")
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The package as `pip install` of its wheel leaves it: the wheel is built from a copy of the sources
    (so the checkout gets no build/ or egg-info) and installed into a folder of its own."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "simulator", source / "simulator", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path_factory.mktemp("wheels")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    done = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    [wheel] = wheels.glob("nelm_sim-*.whl")
    library = tmp_path_factory.mktemp("installed")
    done = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", str(library), str(wheel)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return library


def test_the_built_package_holds_every_data_file_of_the_sources(built):
    shipped = data_files(built / "simulator")
    assert {"scenarios/seed/promid.yaml", "scenarios/validation/clarinet.yaml", "params/calibration_targets.yaml"} <= shipped
    missing = sorted(data_files(ROOT / "simulator") - shipped)
    assert not missing, f"not declared as package data in pyproject.toml: {missing}"


def test_the_checkouts_scenario_folders_are_the_packaged_files_themselves():
    """One copy of each file: scenarios/seed and scenarios/validation of a checkout lead to the package's."""
    for name in ("seed", "validation"):
        assert (ROOT / "scenarios" / name).resolve() == (ROOT / "simulator" / "scenarios" / name).resolve()


def _outside(built: Path, folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    """nelm-sim run from ``folder`` (outside the checkout) with only the built copy of the package importable
    ahead of the environment's (the editable install's finder comes after the path)."""
    env = {**os.environ, "PYTHONPATH": str(built)}
    return subprocess.run([sys.executable, "-m", "simulator", *arguments], cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_outside_the_checkout_the_built_copy_is_the_one_imported(built, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(built)}
    probe = "import simulator; print(simulator.__file__)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert Path(done.stdout.strip()).resolve().is_relative_to(built.resolve()), done.stdout + done.stderr


@pytest.mark.slow
def test_calibrate_check_runs_from_any_folder(built, tmp_path):
    done = _outside(built, tmp_path, "calibrate", "--check", "--patients", "200", "--workers", "1", "--quiet", "--out", "checked")
    table = pd.read_csv(tmp_path / "checked" / "calibration.csv")
    # With 200 patients per arm some targets miss, which makes the exit status 1; it ran all the same.
    assert done.returncode == (0 if table["pass"].all() else 1), done.stderr
    assert set(table["target"]) == {t.id for t in load_targets().targets}
    validation = pd.read_csv(tmp_path / "checked" / "validation.csv")
    assert set(validation["target"]) == {t.id for t in load_validation_targets().targets}


@pytest.mark.slow
def test_reproduce_runs_from_any_folder(built, tmp_path):
    done = _outside(built, tmp_path, "reproduce", "--patients", "200", "--workers", "1", "--quiet", "--out", "figures")
    assert done.returncode == 0, done.stderr
    drawn = {path.name for path in (tmp_path / "figures").glob("*.png")}
    studies = {t.scenario for t in load_validation_targets().targets}
    assert drawn == {f"{f.key}.png" for f in SEED_FIGURES} | {f"validation-{study}.png" for study in studies}
