"""What the cohort is doing over time, rebuilt from the event log: state occupancy, symptom control,
and lines of therapy.

A patient's state at time t is the ``to_state`` of their last event at or before t. Every patient is
followed from t = 0 until death or the horizon, so there is no censoring before the horizon and the
shares below are exact cohort shares (the partitioned-survival picture), not estimates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["replication", "strategy", "patient_id"]
MONTHS_PER_STEP = 1.0  # time grid of the curves: one point a month

# Display groups of the model's states (simulator/pathways/states.py), in stacking order.
STATE_GROUPS = {
    "no_evidence_of_disease": "No evidence of disease",
    "surgery": "Surgery / debulked",
    "debulked": "Surgery / debulked",
    "liver_directed": "Liver-directed therapy",
    "surveillance": "Surveillance",
    "untreated": "Between lines",
    "progressed": "Between lines",
    "best_supportive_care": "Best supportive care",
    "dead": "Dead",
}
SYSTEMIC_GROUP = "Systemic therapy"  # every on_<drug> state
OTHER_GROUP = "Other"  # a state added to the model later shows up here rather than vanishing
GROUP_ORDER = [
    "No evidence of disease",
    "Surgery / debulked",
    "Liver-directed therapy",
    SYSTEMIC_GROUP,
    "Surveillance",
    "Between lines",
    "Best supportive care",
    OTHER_GROUP,
    "Dead",
]
SYMPTOM_STATUS = {"entry": "uncontrolled", "symptoms_controlled": "controlled", "symptoms_relapsed": "uncontrolled", "death": "dead"}


def month_grid(horizon: float) -> np.ndarray:
    return np.arange(0.0, float(horizon) + 1e-9, MONTHS_PER_STEP)


def state_group(state: str) -> str:
    if state.startswith("on_"):
        return SYSTEMIC_GROUP
    return STATE_GROUPS.get(state, OTHER_GROUP)


def _ordered(events: pd.DataFrame) -> pd.DataFrame:
    """Events per patient in the order they were logged (the log is in time order within a run)."""
    frame = events.reset_index(drop=True)
    frame = frame.assign(_seq=np.arange(len(frame)), strategy=frame["strategy"].astype(str), event=frame["event"].astype(str))
    return frame.sort_values(KEYS + ["_seq"], kind="stable")


def _intervals(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """[start, end) of each row's ``label`` value until the same patient's next row (the last row: forever)."""
    same = (frame[KEYS].shift(-1) == frame[KEYS]).all(axis=1).to_numpy()
    end = frame["time"].shift(-1).to_numpy(dtype=float)
    end[~same] = np.inf
    return pd.DataFrame(
        {"strategy": frame["strategy"].to_numpy(), label: frame[label].to_numpy(), "start": frame["time"].to_numpy(dtype=float), "end": end}
    )


def _occupancy_counts(intervals: pd.DataFrame, label: str, grid: np.ndarray) -> pd.DataFrame:
    """Number of intervals covering each grid time, by strategy and label (difference array, O(rows + grid))."""
    rows = []
    for (strategy, value), part in intervals.groupby(["strategy", label], sort=False, observed=True):
        first = np.searchsorted(grid, part["start"].to_numpy(), side="left")
        stop = np.searchsorted(grid, part["end"].to_numpy(), side="left")
        delta = np.bincount(first, minlength=grid.size + 1) - np.bincount(stop, minlength=grid.size + 1)
        rows.append(pd.DataFrame({"strategy": strategy, label: value, "month": grid, "count": np.cumsum(delta)[: grid.size]}))
    return pd.concat(rows, ignore_index=True)


def cohort_sizes(events: pd.DataFrame) -> pd.Series:
    entries = events[events["event"].astype(str) == "entry"]
    return entries.groupby(entries["strategy"].astype(str)).size()


def state_occupancy(events: pd.DataFrame, strategies: list[str], horizon: float) -> pd.DataFrame:
    """Share of the cohort (all replications pooled) in each state group at each month, per strategy."""
    grid = month_grid(horizon)
    # Censoring happens only at the horizon; dropping it keeps the last real state on the horizon's grid point.
    frame = _ordered(events[events["event"].astype(str) != "censored"])
    frame["group"] = frame["to_state"].astype(str).map(state_group)
    counts = _occupancy_counts(_intervals(frame, "group"), "group", grid)
    full = pd.MultiIndex.from_product([strategies, GROUP_ORDER, grid], names=["strategy", "group", "month"])
    counts = counts.set_index(["strategy", "group", "month"])["count"].reindex(full, fill_value=0).reset_index()
    counts["share"] = counts["count"] / counts["strategy"].map(cohort_sizes(events)).astype(float)
    return counts


def symptom_control_curve(events: pd.DataFrame, patients: pd.DataFrame, strategies: list[str], horizon: float) -> pd.DataFrame:
    """Per strategy and month, among functional patients (all replications pooled): how many are alive,
    how many have their symptoms controlled, and the controlled share of the living and of all."""
    grid = month_grid(horizon)
    functional = patients.loc[patients["functional"].astype(bool), KEYS]
    kinds = events[events["event"].astype(str).isin(SYMPTOM_STATUS)]
    kinds = (
        kinds.merge(functional.assign(strategy=functional["strategy"].astype(str)), on=KEYS, how="inner")
        if len(functional)
        else kinds.iloc[:0]
    )
    out = []
    sizes = functional.groupby("strategy").size()
    for strategy in strategies:
        n = int(sizes.get(strategy, 0))
        part = kinds[kinds["strategy"].astype(str) == strategy]
        counts = {"controlled": np.zeros(grid.size), "uncontrolled": np.zeros(grid.size)}
        if len(part):
            frame = _ordered(part)
            frame["status"] = frame["event"].map(SYMPTOM_STATUS)
            table = _occupancy_counts(_intervals(frame, "status"), "status", grid)
            for status in counts:
                values = table.loc[table["status"] == status, "count"].to_numpy()
                if values.size:
                    counts[status] = values.astype(float)
        alive = counts["controlled"] + counts["uncontrolled"]
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(
                pd.DataFrame(
                    {
                        "strategy": strategy,
                        "month": grid,
                        "functional_patients": n,
                        "alive": alive.astype(int),
                        "controlled": counts["controlled"].astype(int),
                        "controlled_share_of_alive": np.where(alive > 0, counts["controlled"] / alive, np.nan),
                        "controlled_share_of_all": counts["controlled"] / n if n else np.full(grid.size, np.nan),
                    }
                )
            )
    return pd.concat(out, ignore_index=True)


def therapy_lines(events: pd.DataFrame) -> pd.DataFrame:
    """One row per line of therapy: patient keys, treatment, start and end (next line, death or horizon).

    A line starts with a ``treatment_start`` that changes the state; add-ons started within a state
    (telotristat) are not lines."""
    kind = events["event"].astype(str)
    starts = (kind == "treatment_start") & (events["from_state"].astype(str) != events["to_state"].astype(str))
    terminal = kind.isin(["death", "censored"])
    frame = _ordered(events[starts | terminal])
    same = (frame[KEYS].shift(-1) == frame[KEYS]).all(axis=1).to_numpy()
    frame["end"] = np.where(same, frame["time"].shift(-1), np.nan)
    lines = frame[frame["event"] == "treatment_start"]
    return pd.DataFrame(
        {
            "replication": lines["replication"].to_numpy(),
            "strategy": lines["strategy"].to_numpy(),
            "patient_id": lines["patient_id"].to_numpy(),
            "treatment": lines["detail"].astype(str).to_numpy(),
            "start": lines["time"].to_numpy(dtype=float),
            "end": lines["end"].to_numpy(dtype=float),
        }
    )


def swimmer_data(events: pd.DataFrame, strategy: str, replication: int, patient_ids: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lines of therapy and marker events (progression, recurrence, death, censoring) of a few patients."""
    subset = events[
        (events["strategy"].astype(str) == strategy) & (events["replication"] == replication) & (events["patient_id"].isin(patient_ids))
    ]
    lines = therapy_lines(subset)
    kind = subset["event"].astype(str)
    markers = subset[kind.isin(["progression", "recurrence", "death", "censored"])]
    markers = pd.DataFrame(
        {
            "patient_id": markers["patient_id"].to_numpy(),
            "time": markers["time"].to_numpy(dtype=float),
            "event": markers["event"].astype(str).to_numpy(),
            "detail": markers["detail"].astype(str).to_numpy(),
        }
    )
    return lines, markers


def pool_occupancy(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Occupancy of several replications (each from ``state_occupancy``) as shares of all their patients."""
    stacked = pd.concat(frames, ignore_index=True)
    pooled = stacked.groupby(["strategy", "group", "month"], sort=False, as_index=False)["count"].sum()
    # Every patient is in exactly one group (the dead included) at every month: the column sum is the cohort.
    pooled["share"] = pooled["count"] / pooled.groupby(["strategy", "month"], sort=False)["count"].transform("sum")
    return pooled


def pool_symptom_curves(frames: list[pd.DataFrame]) -> pd.DataFrame:
    stacked = pd.concat(frames, ignore_index=True)
    pooled = stacked.groupby(["strategy", "month"], sort=False, as_index=False)[["functional_patients", "alive", "controlled"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled["controlled_share_of_alive"] = np.where(pooled["alive"] > 0, pooled["controlled"] / pooled["alive"], np.nan)
        pooled["controlled_share_of_all"] = np.where(
            pooled["functional_patients"] > 0, pooled["controlled"] / pooled["functional_patients"], np.nan
        )
    return pooled
