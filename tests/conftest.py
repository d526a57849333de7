from __future__ import annotations

from pathlib import Path

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
