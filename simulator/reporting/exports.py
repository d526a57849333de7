"""Exports for analysts who work elsewhere (README "Health economics", its "Exports" paragraph).

* ``psa_exports``: the PSA as the matrices R's BCEA (``bcea(eff, cost)``: simulations x interventions)
  and dampack (``make_psa_obj(cost, effectiveness, parameters, strategies)``: one row per simulation,
  one column per strategy) read: psa_costs.csv and psa_effects.csv (draw, then one column per
  strategy in the scenario's order) and psa_strategies.csv (the order, with the comparator flagged: BCEA's
  ``ref``);
  the parameters are psa_parameters.csv as the PSA writes it (draw, then one column per parameter).
* ``write_workbook``: results.xlsx (openpyxl), one sheet of inputs (every parameter with its value,
  unit, source, PSA distribution and DSA range) and one sheet per result table of the folder, read
  back from the folder's own CSV files so that the workbook holds exactly their numbers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments.psa import PSAResult
    from ..params.parameter_set import ParameterSet

WORKBOOK = "results.xlsx"
# Result tables put in the workbook when the folder has them, in this order (per-patient tables, the
# event log and the curves behind figures stay in their CSV files: they can be millions of rows).
WORKBOOK_TABLES = (
    "summary.csv",
    "comparison.csv",
    "economics.csv",
    "icer.csv",
    "psa_summary.csv",
    "ceac.csv",
    "evpi.csv",
    "psa.csv",
    "psa_parameters.csv",
    "dsa.csv",
    "tornado.csv",
    "scenarios.csv",
    "variants.csv",
)
PARAMETERS_SHEET = "parameters"
CONTENTS_SHEET = "contents"
MAX_SHEET_NAME = 31  # Excel's limit


def _wide(result: PSAResult, column: str) -> pd.DataFrame:
    table = result.outcomes.pivot(index="draw", columns="strategy", values=column)[result.strategies]
    table.columns.name = None
    return table.reset_index()


def psa_exports(result: PSAResult, comparator: str | None = None) -> dict[str, pd.DataFrame]:
    """File name -> table of the PSA in the layout BCEA and dampack read (module docstring)."""
    return {
        "psa_costs.csv": _wide(result, "costs"),
        "psa_effects.csv": _wide(result, "qalys"),
        "psa_strategies.csv": pd.DataFrame(
            {
                "column": range(1, len(result.strategies) + 1),
                "strategy": result.strategies,
                "comparator": [int(name == comparator) for name in result.strategies],
            }
        ),
    }


def parameter_sheet(rows: list[dict[str, str]], params: ParameterSet) -> pd.DataFrame:
    """The inputs: ``rows`` (commands.params.parameter_rows, what `nelm-sim params` prints) with the value as a number where the
    parameter has one (``value`` keeps the text, a distribution for a parameter drawn per patient)."""
    frame = pd.DataFrame(rows)
    numbers = [params.entries[name].value for name in frame["name"]]
    frame.insert(1, "number", [float(v) if v is not None and math.isfinite(v) else None for v in numbers])
    return frame.rename(columns={"value": "value_as_written"})


def _sheet_name(file: str) -> str:
    return file.removesuffix(".csv")[:MAX_SHEET_NAME]


def write_workbook(folder: Path, parameters: pd.DataFrame) -> Path:
    """results.xlsx in ``folder``: contents, parameters, then the folder's result tables (as read from
    its CSV files). openpyxl's write-only mode keeps memory flat for a long PSA."""
    from openpyxl import Workbook

    tables = {name: pd.read_csv(folder / name) for name in WORKBOOK_TABLES if (folder / name).exists()}
    contents = pd.DataFrame(
        [{"sheet": PARAMETERS_SHEET, "holds": "every parameter: value, unit, source, PSA distribution, DSA range"}]
        + [{"sheet": _sheet_name(name), "holds": f"{name} of this folder"} for name in tables]
    )
    book = Workbook(write_only=True)
    for name, frame in ((CONTENTS_SHEET, contents), (PARAMETERS_SHEET, parameters), *((_sheet_name(n), t) for n, t in tables.items())):
        sheet = book.create_sheet(name)
        sheet.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            sheet.append([None if isinstance(v, float) and math.isnan(v) else v for v in row])
    path = Path(folder) / WORKBOOK
    book.save(path)
    return path
