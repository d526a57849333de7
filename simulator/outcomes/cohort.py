"""The simulated cohort's baseline characteristics (the "Table 1" of a paper)."""

from __future__ import annotations

import pandas as pd

from ..config import ATTRIBUTE_VALUES, BOOLEAN_ATTRIBUTES


def cohort_characteristics(patients: pd.DataFrame) -> pd.DataFrame:
    """Rows (characteristic, level, n, share; mean and sd for a continuous one) over all replications' cohorts.

    Every strategy sees the same patients (common random numbers), so one strategy's rows are the cohort."""
    first = patients["strategy"].iloc[0]
    cohort = patients[patients["strategy"] == first]
    n = len(cohort)
    rows = [
        {"characteristic": "patients (all replications)", "level": "", "n": n, "share": 1.0},
        {
            "characteristic": "age, years",
            "level": "mean (SD)",
            "n": n,
            "share": float("nan"),
            "mean": float(cohort["age"].mean()),
            "sd": float(cohort["age"].std(ddof=1)) if n > 1 else 0.0,
        },
    ]
    for column, levels in ATTRIBUTE_VALUES.items():
        if column not in cohort:
            continue
        counts = cohort[column].astype(str).value_counts()
        for level in levels:
            count = int(counts.get(level, 0))
            rows.append({"characteristic": column.replace("_", " "), "level": level, "n": count, "share": count / n if n else float("nan")})
    for column in BOOLEAN_ATTRIBUTES:
        if column not in cohort:
            continue
        count = int(cohort[column].astype(bool).sum())
        rows.append({"characteristic": column.replace("_", " "), "level": "yes", "n": count, "share": count / n if n else float("nan")})
    return pd.DataFrame(rows)
