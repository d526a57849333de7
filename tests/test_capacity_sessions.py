"""`nelm-sim capacity --vary sessions` (issue 20, item 8): the schedules the sessions search builds, its
options refused before any simulation, its curve, and more sessions shortening the wait."""

from __future__ import annotations

import copy
import json
import math
import re
import shlex

import pandas as pd
import pytest
from scipy import stats

from simulator.cli import main
from simulator.config import MAX_SCHEDULE_SESSIONS, Scenario, SessionConfig
from simulator.experiments.capacity_search import (
    SESSION_COLUMNS,
    added_sessions,
    most_sessions,
    session_text,
    sessions_schedule,
    week_open_hours,
    with_sessions,
)
from simulator.experiments.compare import run_comparison
from simulator.experiments.runner import prepare

from .conftest import ROOT, forbid_simulation, tiny_scenario


def sessions(*items: tuple[str, float, float]) -> list[SessionConfig]:
    return [SessionConfig.model_validate({"day": d, "start": s, "hours": h}) for d, s, h in items]


# ------------------------------------------------------------------------------------------------
# The schedules built (exact)


def test_extra_sessions_copy_the_first_session_on_the_free_days_monday_first():
    schedule = sessions(("tue", 8, 4), ("thu", 13.5, 2))
    built = sessions_schedule(schedule, 5)
    assert [session_text(s) for s in built] == [
        "tue 08:00 for 4 h",
        "thu 13:30 for 2 h",
        "mon 08:00 for 4 h",
        "wed 08:00 for 4 h",
        "fri 08:00 for 4 h",
    ]
    assert week_open_hours(built) == 4 + 2 + 3 * 4
    assert most_sessions(schedule) == 7  # the two scheduled, then mon, wed, fri, sat, sun
    assert [s.day for s in sessions_schedule(schedule, 7)] == ["tue", "thu", "mon", "wed", "fri", "sat", "sun"]


def test_fewer_sessions_than_scheduled_keep_the_first_ones_as_listed():
    schedule = sessions(("fri", 9, 8), ("mon", 9, 8), ("wed", 9, 3))
    assert sessions_schedule(schedule, 1) == schedule[:1]
    assert sessions_schedule(schedule, 3) == schedule
    assert [week_open_hours(sessions_schedule(schedule, k)) for k in (1, 2, 3, 4)] == [8, 16, 19, 27]


def test_a_copy_that_would_overlap_a_session_past_midnight_is_not_added():
    # Copies of Monday 20:00 for 14 h run to 10:00 the next day: Tuesday's would overlap Wednesday's
    # 08:00-10:00 session, so Tuesday is skipped; Sunday's runs into Monday 10:00, before Monday's at 20:00.
    schedule = sessions(("mon", 20, 14), ("wed", 8, 2))
    days = [s.day for s in added_sessions(schedule)]
    assert days == ["thu", "fri", "sat", "sun"]
    assert most_sessions(schedule) == 6
    for k in range(1, most_sessions(schedule) + 1):  # every session added adds its whole length
        built = sessions_schedule(schedule, k)
        assert week_open_hours(built) == pytest.approx(sum(s.hours for s in built), abs=1e-9)


def test_a_schedule_on_every_day_cannot_grow_and_the_bound_is_the_schedule_limit():
    every_day = sessions(*[(d, 8, 2) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")])
    assert added_sessions(every_day) == [] and most_sessions(every_day) == 7
    many = sessions(*[("mon", h / 2, 0.25) for h in range(MAX_SCHEDULE_SESSIONS - 2)])
    assert most_sessions(many) == MAX_SCHEDULE_SESSIONS  # 48 scheduled + 6 free days, capped


def test_with_sessions_changes_only_the_resource_schedule():
    data = tiny_scenario(capacity=copy.deepcopy(SCARCE))
    scenario = Scenario.model_validate(data)
    changed = with_sessions(scenario, "theatre", 3)
    theatre = changed.capacity.resources.theatre
    assert theatre.capacity == 1 and [s.day for s in theatre.schedule] == ["tue", "mon", "wed"]
    assert changed.capacity.resources.mdt == scenario.capacity.resources.mdt
    assert changed.capacity.arrivals == scenario.capacity.arrivals


# ------------------------------------------------------------------------------------------------
# Options refused before any simulation, one line naming the option

SCARCE = {
    "arrivals": {"catchment_population": 3_000_000, "years": 2, "warmup_years": 0.5},
    "resources": {
        "mdt": {"capacity": 1, "schedule": [{"day": "wed", "start": 13, "hours": 3}]},
        "theatre": {"capacity": 1, "schedule": [{"day": "tue", "start": 8, "hours": 1}]},
        "beds": {"capacity": 20},
    },
}


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--resource", "beds", "--vary", "sessions"], "--vary sessions: expected a resource with a schedule"),
        (["--resource", "theatre", "--vary", "sessions", "--max-sessions", "8"], "--max-sessions: expected at most 7 sessions a week"),
        (["--resource", "theatre", "--vary", "sessions", "--min-sessions", "4", "--max-sessions", "3"], "--min-sessions/--max-sessions"),
        (["--resource", "theatre", "--vary", "sessions", "--min-sessions", "9"], "--min-sessions/--max-sessions: expected 1 <= min"),
        (["--resource", "theatre", "--vary", "sessions", "--max-capacity", "3"], "--max-capacity: not an option of --vary sessions"),
        (["--resource", "theatre", "--min-sessions", "2"], "--min-sessions: not an option of --vary capacity"),
        (["--resource", "mdt", "--vary", "sessions", "--max-sessions", "60"], f"at most {7}"),
    ],
)
def test_bad_session_options_are_refused_before_any_simulation(write_scenario, tmp_path, capsys, monkeypatch, options, expected):
    forbid_simulation(monkeypatch)
    path = write_scenario(tiny_scenario(strategies=["surgery-first"], capacity=SCARCE))
    out = tmp_path / "o"
    assert main(["capacity", str(path), "--target-p90-wait", "7", "--out", str(out), "--quiet", *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not out.exists()


def test_an_unknown_vary_is_refused_by_the_parser(write_scenario, capsys):
    path = write_scenario(tiny_scenario(capacity=SCARCE))
    with pytest.raises(SystemExit) as stop:
        main(["capacity", str(path), "--resource", "theatre", "--target-p90-wait", "7", "--vary", "units"])
    assert stop.value.code == 2 and "--vary" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# The search


def test_sessions_search_curve_and_answer(write_scenario, tmp_path, capsys):
    path = write_scenario(tiny_scenario(strategies=["surgery-first"], capacity=SCARCE, horizon_months=36))
    out = tmp_path / "s"
    status = main(
        ["capacity", str(path), "--resource", "theatre", "--target-p90-wait", "7", "--vary", "sessions", "--max-sessions", "4"]
        + ["--out", str(out), "--quiet"]
    )
    assert status == 0
    printed = capsys.readouterr().out
    curve = pd.read_csv(out / "capacity_curve.csv")
    assert list(curve.columns) == SESSION_COLUMNS
    tried = list(curve["sessions_per_week"])
    assert tried == list(range(1, len(tried) + 1)) and len(tried) <= 4
    assert list(curve["open_hours_per_week"]) == [float(k) for k in tried]  # one hour a session
    assert list(curve["schedule"])[:2] == ["tue 08:00 for 1 h", "tue 08:00 for 1 h; mon 08:00 for 1 h"]
    assert (curve["capacity"] == 1).all()  # units fixed
    assert (curve["meets_target"] == (curve["p90_wait_days"] <= 7)).all()
    met = curve.set_index("sessions_per_week")["meets_target"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["vary"] == "sessions" and manifest["max_sessions"] == 4 and "min_capacity" not in manifest
    if met.any():
        answer = int(met[met].index.min())
        assert manifest["answer"] == answer and tried[-1] == min(answer + 1, 4)  # one step beyond the answer
        assert f"sessions a week with a 90th-percentile wait <= 7 days: {answer} (" in printed
    else:
        assert manifest["answer"] is None and tried[-1] == 4 and "no number of theatre sessions a week" in printed
    assert not met.loc[1]  # one hour a week is too little for this catchment
    assert "sessions/week" in printed and "open hours/week" in printed
    assert (out / "figures" / "capacity_curve.png").is_file()


def test_more_sessions_do_not_lengthen_the_p90_wait_beyond_noise():
    """Per-replication p90 theatre waits at 1, 2 and 3 weekly sessions (common random numbers): each added
    session is not significantly worse (one-sided 95% t bound of the paired difference), and three sessions
    are significantly better than one."""
    scenario = Scenario.model_validate(
        tiny_scenario(strategies=["surgery-first"], capacity=copy.deepcopy(SCARCE), horizon_months=36, replications=4)
    )

    def p90s(k: int) -> pd.Series:
        comparison = run_comparison(prepare(with_sessions(scenario, "theatre", k), "t.yaml"))
        resources = comparison.capacity.frame("resources")
        theatre = resources[resources["resource"] == "theatre"].set_index("replication")["wait_p90_days"]
        return theatre.fillna(0.0).sort_index()

    waits = {k: p90s(k) for k in (1, 2, 3)}

    def bounds(differences: pd.Series) -> tuple[float, float]:
        n = len(differences)
        half = stats.t.ppf(0.95, n - 1) * differences.std(ddof=1) / math.sqrt(n)
        return differences.mean() - half, differences.mean() + half

    for k in (1, 2):
        lower, _ = bounds(waits[k + 1] - waits[k])
        assert lower <= 0, (k, waits)  # not significantly longer with one more session
    _, upper = bounds(waits[3] - waits[1])
    assert upper < 0, waits


# ------------------------------------------------------------------------------------------------
# README


def test_readme_sessions_example_runs(tmp_path, capsys):
    """The `--vary sessions` command of README "Capacity planning", run as written (into a temporary folder)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for line in re.findall(r"^nelm-sim capacity .*$", text, re.MULTILINE) if "--vary sessions" in line]
    assert commands, "README shows no `nelm-sim capacity ... --vary sessions` example"
    argv = shlex.split(commands[0])[1:]
    argv[1] = str(ROOT / argv[1])
    assert main([*argv, "--out", str(tmp_path / "readme"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    curve = pd.read_csv(tmp_path / "readme" / "capacity_curve.csv")
    # README's figures: 162.1 days at one 2-hour session a week, 15.0 at two (the answer for 30 days).
    p90 = curve.set_index("sessions_per_week")["p90_wait_days"]
    assert round(p90.loc[1], 1) == 162.1 and round(p90.loc[2], 1) == 15.0
    assert "with a 90th-percentile wait <= 30 days: 2 (tue 08:00 for 2 h; mon 08:00 for 2 h" in printed
