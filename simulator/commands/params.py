"""`nelm-sim params`: every model parameter with its value, unit and source, optionally with a
scenario's overrides, and its sensitivity-analysis settings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import load_scenario
from ..experiments.runner import prepare
from ..params.parameter_set import build_parameter_set


def parameter_table(path: Path | None = None) -> pd.DataFrame:
    """The provenance table of the parameter library, with the scenario at ``path`` applied."""
    params = prepare(load_scenario(path), path).params if path is not None else build_parameter_set()
    table = pd.DataFrame(params.provenance_rows())
    # Sensitivity-analysis columns: the PSA distribution and the DSA range, each with its provenance.
    entries = [params.entries[name] for name in table["name"]]
    table["psa"] = [f"{e.psa.describe()}; {e.psa.provenance}" if e.psa else "" for e in entries]
    table["dsa_range"] = [f"[{e.low:g}, {e.high:g}]; {e.range_source}" if e.low is not None else "" for e in entries]
    return table
