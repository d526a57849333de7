"""`nelm-sim params`: every model parameter with its value, unit and source, optionally with a
scenario's overrides, its sensitivity-analysis settings and, for a value the burden model's fit
moves, the plausible range the fit keeps it in.

It loads no pandas (tests/test_startup.py): the table is a list of rows, printed as CSV or as text."""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path

from ..config import load_scenario
from ..experiments.prepare import prepare
from ..params.parameter_set import build_parameter_set

COLUMNS = ("name", "value", "unit", "price_year", "source", "file", "psa", "dsa_range", "calibration_range")
# The aligned table wraps its long columns at these widths (characters), so that a line fits a terminal
# of about 160 columns; the CSV keeps every text whole.
WRAP = {"value": 24, "price_year": 18, "source": 48, "file": 22, "psa": 30, "dsa_range": 30, "calibration_range": 30}


def parameter_rows(path: Path | None = None) -> list[dict[str, str]]:
    """The provenance table of the parameter library, with the scenario at ``path`` applied."""
    from ..economics.prices import price_year_label
    from ..economics.sampling import load_posterior, psa_status
    from ..economics.settings import EconomicSettings

    if path is not None:
        scenario = load_scenario(path)
        params, settings = prepare(scenario, path).params, EconomicSettings.from_scenario(scenario)
    else:
        params, settings = build_parameter_set(), None
    rows = params.provenance_rows()
    posterior = load_posterior()
    # Sensitivity-analysis columns: the PSA distribution and the DSA range, each with its provenance.
    for row in rows:
        entry = params.entries[row["name"]]
        row["psa"] = psa_status(params, row["name"], posterior)
        row["dsa_range"] = _range_text(entry.low, entry.high, entry.range_source)
        # A calibrated value's plausible range (scripts/burden_fit.py keeps the fit inside it), with its source.
        row["calibration_range"] = _range_text(*(entry.calibration_range or (None, None)), entry.calibration_range_source)
        # Costs: the source's price year -> the price year the valuation inflates it to (or the scenario's own).
        row["price_year"] = price_year_label(params, row["name"], settings)
        if settings is not None and row["name"] in settings.cost_table:  # the scenario's own cost table
            row["value"] = f"{settings.cost_table[row['name']]:g}"
            row["unit"] = row["unit"].replace("gbp", settings.currency.lower(), 1)
            row["source"] = scenario.economics.cost_provenance(row["name"], Path(path).name)  # type: ignore[arg-type, union-attr]
            row["file"] = Path(path).name  # type: ignore[arg-type]
    return rows


def _range_text(lower: float | None, upper: float | None, source: str | None) -> str:
    """``[lower, upper]; source``, or empty for an entry without the range."""
    return f"[{lower:g}, {upper:g}]; {source}" if lower is not None else ""


def parameter_table(path: Path | None = None):
    """The same rows as a pandas DataFrame (for Python users)."""
    import pandas as pd

    return pd.DataFrame(parameter_rows(path), columns=list(COLUMNS))


def rows_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: row.get(column, "") for column in COLUMNS} for row in rows)
    return buffer.getvalue()


def rows_text(rows: list[dict[str, str]]) -> str:
    """An aligned table; long cells wrap within their column onto the lines that follow."""
    cells = [[textwrap.wrap(str(row.get(c, "")), WRAP[c]) or [""] if c in WRAP else [str(row.get(c, ""))] for c in COLUMNS] for row in rows]
    widths = [max(len(c), *(len(line) for row in cells for line in row[i])) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip()]
    for row in cells:
        for k in range(max(len(cell) for cell in row)):
            lines.append("  ".join((cell[k] if k < len(cell) else "").ljust(w) for cell, w in zip(row, widths)).rstrip())
    return "\n".join(lines) + "\n"
