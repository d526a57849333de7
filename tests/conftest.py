from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def tiny_scenario(**changes) -> dict:
    data = {
        "name": "tiny",
        "description": "small scenario for tests",
        "seed": 7,
        "replications": 1,
        "cohort": {"size": 60},
        "horizon_months": 120,
        "strategies": ["surgery-first", "systemic-first"],
    }
    data.update(changes)
    return data


@pytest.fixture
def write_scenario(tmp_path):
    def _write(data: dict | str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return _write


def forbid_simulation(monkeypatch) -> None:
    """Make every simulation fail the test (limits and destinations must be refused before it starts):
    the engine's model run, which every command reaches whatever names its modules imported."""
    import simulator.engine.model as model

    def refuse(*args, **kwargs):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(model.PathwayModel, "run", refuse)


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory):
    """``regression_run(name)`` -> (folder, {relative path: CSV text}) of a stored-regression case
    (tests/regression/cases.py), run at most once per session: the regression test compares its CSVs and
    other tests that need the same command line read the same folder. Tests must only read it."""
    root = tmp_path_factory.mktemp("regression")
    runs: dict[str, tuple[Path, MappingProxyType]] = {}

    def _run(name: str) -> tuple[Path, MappingProxyType]:
        if name not in runs:
            from tests.regression.cases import run_case

            runs[name] = (root / name, MappingProxyType(run_case(name, root / name)))
        return runs[name]

    return _run


@pytest.fixture
def interrupt_as_a_user_has():
    """A suite started in the background (`make test &`, some CI runners) inherits SIGINT ignored, and an
    in-process test that sends itself SIGINT then sees nothing: give it Python's default for the test."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def pytest_collection_modifyitems(items):
    """Tests marked slow run first (order otherwise kept): with two workers, a long test collected last
    left one core idle for its whole length at the end of the run; started first, the short tests fill
    in around it."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
