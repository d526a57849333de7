"""Hazard ratios of each strategy against a comparator, from Cox proportional-hazards models (lifelines).

Each strategy is compared with the comparator in its own two-arm model, so a strategy's hazard ratio
does not depend on which other strategies happen to be in the scenario.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError
from scipy import stats

CONFIDENCE_LEVEL = 0.95


def two_arm_hazard_ratio(
    durations: np.ndarray,
    events: np.ndarray,
    treated: np.ndarray,
    clusters: np.ndarray | None = None,
) -> dict[str, float]:
    """Cox estimate of the hazard ratio of ``treated`` (1) against the comparator (0).

    ``clusters`` names the patient behind each row. Under common random numbers the same patient is in
    both arms, so the rows are not independent; the cluster-robust (sandwich) variance accounts for it.
    """
    frame = pd.DataFrame(
        {
            "duration": np.asarray(durations, dtype=float),
            "event": np.asarray(events, dtype=int),
            "treated": np.asarray(treated, dtype=int),
        }
    )
    fit_kwargs: dict = {}
    if clusters is not None:
        frame["cluster"] = np.asarray(clusters)
        fit_kwargs["cluster_col"] = "cluster"
    nan = {"hr": math.nan, "lower_95": math.nan, "upper_95": math.nan, "log_hr": math.nan, "se_log_hr": math.nan}
    # A Cox model needs events, and both arms present, to say anything.
    if frame["event"].sum() == 0 or frame["treated"].nunique() < 2:
        return nan
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph = CoxPHFitter().fit(frame, "duration", "event", **fit_kwargs)
    except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError):
        return nan
    log_hr = float(cph.params_["treated"])
    se = float(cph.standard_errors_["treated"])
    z = float(stats.norm.ppf(0.5 + CONFIDENCE_LEVEL / 2.0))
    return {
        "hr": math.exp(log_hr),
        "lower_95": math.exp(log_hr - z * se),
        "upper_95": math.exp(log_hr + z * se),
        "log_hr": log_hr,
        "se_log_hr": se,
    }


def hazard_ratios(
    patients: pd.DataFrame,
    strategies: list[str],
    comparator: str,
    duration: str = "os_months",
    event: str = "death",
    robust: bool = False,
) -> pd.DataFrame:
    """One row per strategy other than the comparator: hazard ratio with its model-based 95% CI.

    With ``robust`` the variance is clustered on (replication, patient_id), the patient shared by
    both arms under common random numbers."""
    rows = []
    base = patients[patients["strategy"] == comparator]
    for strategy in strategies:
        if strategy == comparator:
            continue
        arm = patients[patients["strategy"] == strategy]
        both = pd.concat([base, arm], ignore_index=True).dropna(subset=[duration])
        clusters = None
        if robust:
            clusters = both["replication"].astype("int64").to_numpy() * (int(both["patient_id"].max()) + 1) + both["patient_id"].to_numpy()
        result = two_arm_hazard_ratio(
            both[duration].to_numpy(), both[event].to_numpy(), (both["strategy"] == strategy).to_numpy(), clusters
        )
        rows.append({"strategy": strategy, "comparator": comparator, **result})
    return pd.DataFrame(rows, columns=["strategy", "comparator", "hr", "lower_95", "upper_95", "log_hr", "se_log_hr"])
