"""Figures and tables that hold at the edges (issue 20 item 3, acceptance 1): every table and figure of
run, compare, psa and the page is rendered for a one-strategy, one-replication scenario, and those of
compare for a capacity scenario with a resource no strategy uses. With warnings as errors: no panel is
drawn empty (it is left out, with a note), no text falls off its figure, no interval leaves its natural
bound, and counts are printed as whole numbers."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from simulator.app import compute
from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.config import load_scenario
from simulator.experiments.runner import prepare
from simulator.outcomes.metrics import natural_bounds
from simulator.reporting import style
from simulator.reporting.capacity_report import SUMMARY_HEADINGS, resource_table

from .conftest import tiny_scenario

WHOLE = re.compile(r"^-?\d{1,3}(,\d{3})*$")
PAGE_FIGURE_WIDTH_PX = 700  # what the page gives a figure in a wide layout with the sidebar open (at least)
READABLE_PX = 9.0  # the smallest text height a reader can take in on screen
OVERLAP_PX = 1.0  # texts whose boxes share more than this (both ways) are written over each other


class Rendered:
    """Every figure saved while a command runs, checked as it is saved."""

    def __init__(self) -> None:
        self.figures: list[str] = []
        self.problems: list[str] = []
        self.panels: dict[str, list[str]] = {}  # file name -> the titles and y labels of its visible panels

    def check(self, fig: Figure, name: str) -> None:
        self.figures.append(name)
        self.panels[Path(name).name] = [f"{ax.get_title()} {ax.get_ylabel()}" for ax in fig.axes if ax.get_visible()]
        renderer = fig.canvas.get_renderer()
        box = fig.bbox
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            drawn = ax.lines or ax.collections or ax.patches or ax.images or ax.texts or ax.containers
            if not drawn:
                self.problems.append(f"{name}: an empty panel ({ax.get_title() or ax.get_ylabel() or 'untitled'})")
        hidden = set()  # labels of ticks outside the axis' view, which are not drawn
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                low, high = sorted(axis.get_view_interval())
                for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                    if not low - 1e-9 * abs(high - low) <= tick.get_loc() <= high + 1e-9 * abs(high - low):
                        hidden.update((id(tick.label1), id(tick.label2)))
        shown = []
        seen = set()  # findobj reaches a legend's texts by more than one path
        for text in fig.findobj(Text):
            if id(text) in hidden or id(text) in seen or not text.get_visible() or not text.get_text().strip():
                continue
            seen.add(id(text))
            extent = text.get_window_extent(renderer)
            if extent.x0 < box.x0 - 1 or extent.x1 > box.x1 + 1 or extent.y0 < box.y0 - 1 or extent.y1 > box.y1 + 1:
                self.problems.append(f"{name}: {text.get_text()!r} falls off the figure")
            shown.append((text.get_text(), extent))
        # No two texts written over each other (tick labels, numbers at risk): seen on a lifetime horizon,
        # where yearly ticks over 1,200 months ran together into an unreadable band.
        for index, (words, extent) in enumerate(shown):
            for other, other_extent in shown[index + 1 :]:
                overlap_x = min(extent.x1, other_extent.x1) - max(extent.x0, other_extent.x0)
                overlap_y = min(extent.y1, other_extent.y1) - max(extent.y0, other_extent.y0)
                if overlap_x > OVERLAP_PX and overlap_y > OVERLAP_PX:
                    self.problems.append(f"{name}: {words!r} and {other!r} are written over each other")
                    return


@pytest.fixture
def rendered(monkeypatch):
    found = Rendered()
    original = Figure.savefig

    def savefig(fig, target, *args, **kwargs):
        saved = original(fig, target, *args, **kwargs)  # drawn: the layout is final
        found.check(fig, str(getattr(target, "name", target)))
        return saved

    monkeypatch.setattr(Figure, "savefig", savefig)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="(?!simulator)")  # third-party internals
        yield found
    plt.close("all")


def _scenario(write_scenario, **changes) -> Path:
    return write_scenario(tiny_scenario(**changes))


def _check_intervals(table: pd.DataFrame) -> None:
    for row in table.itertuples(index=False):
        bounds = natural_bounds(row.metric)
        if bounds is None:
            continue
        for value in (row.estimate, row.lower_95, row.upper_95):
            if pd.notna(value):
                assert bounds[0] - 1e-12 <= value <= bounds[1] + 1e-12, (row.strategy, row.metric, value, bounds)


def _cli(args: list[str], capsys) -> str:
    assert main([*args, "--quiet"]) == 0
    captured = capsys.readouterr()
    # Nothing on stderr (no Matplotlib warning, no file path) but the model's own one-line warnings.
    stray = [line for line in captured.err.splitlines() if not line.startswith("nelm-sim: warning: ")]
    assert not stray, captured.err
    return captured.out


@pytest.mark.slow
def test_one_strategy_one_replication(write_scenario, tmp_path, rendered, capsys):
    path = _scenario(write_scenario, strategies=["surgery-first"], replications=1, cohort={"size": 60})
    _cli(["run", str(path), "--out", str(tmp_path / "run"), "--workers", "1"], capsys)
    printed = _cli(["compare", str(path), "--out", str(tmp_path / "compare"), "--workers", "1"], capsys)
    _cli(["psa", str(path), "--draws", "3", "--patients", "20", "--out", str(tmp_path / "psa"), "--workers", "1"], capsys)
    assert "surgery-first" in printed and "reference" in printed  # its own hazard ratio is the reference
    comparison = read_csv(tmp_path / "compare" / "comparison.csv")
    _check_intervals(comparison)
    files = {Path(name).name for name in rendered.figures}
    assert "hazard_ratios.png" not in files  # nothing to compare with: left out, not drawn empty
    assert {"overall_survival.png", "km_overall_survival.png", "state_occupancy.png", "symptom_control.png"} <= files
    report = (tmp_path / "compare" / "report.html").read_text(encoding="utf-8")
    assert "1.00 [1.00, 1.00]" not in report and "reference" in report
    # The page, drawn from the same kind of run.
    prepared = prepare(load_scenario(path), path)
    result = compute.page_result(compute.simulate(prepared, 3, 20))
    assert "hazard_ratios" not in result.figures
    assert result.headline.iloc[0, 4] == "reference"
    assert not rendered.problems, "\n".join(rendered.problems)


def test_at_risk_numbers_are_readable_at_the_page_size(rendered):
    from simulator.reporting.survival_figures import km_figure

    strategies = ["surgery-first", "iat-first", "systemic-first", "watch-and-wait", "guideline", "best-supportive-care"]
    curves = pd.DataFrame(
        [
            {"strategy": s, "time_months": t, "survival": 1 - t / 300, "lower_95": 0.9 - t / 300, "upper_95": 1.0}
            for s in strategies
            for t in (0, 120)
        ]
    )
    at_risk = pd.DataFrame({t: [1500 - 5 * t] * len(strategies) for t in (0.0, 12.0, 24.0)}, index=strategies)
    fig = km_figure(curves, at_risk, strategies, "title", "Overall survival", 120.0)
    scale = PAGE_FIGURE_WIDTH_PX / (fig.get_figwidth() * fig.dpi)
    table = fig.axes[1]
    for text in [*table.texts, *table.get_yticklabels()]:
        assert text.get_fontsize() * fig.dpi / 72 * scale >= READABLE_PX, (text.get_text(), text.get_fontsize())
    shown = [t.get_text() for t in table.texts if t.get_text()]
    assert len(shown) == 3 * len(strategies) and all(WHOLE.match(text) for text in shown), shown


@pytest.mark.slow
def test_a_lifetime_horizon_draws_readable_time_axes(write_scenario, tmp_path, rendered, capsys):
    """The baseline's horizon, lifetime (1,200 months): yearly ticks and numbers at risk across it ran
    together into an unreadable band on every figure over time and on the page (README's screenshot).
    The axes now stop once fewer than 1% of patients are still followed, with ticks that fit."""
    strategies = ["surgery-first", "iat-first", "systemic-first", "watch-and-wait", "guideline", "best-supportive-care"]
    path = _scenario(write_scenario, horizon_months="lifetime", strategies=strategies, cohort={"size": 150})
    _cli(["compare", str(path), "--out", str(tmp_path / "compare"), "--workers", "1"], capsys)
    prepared = prepare(load_scenario(path), path)
    compute.page_result(compute.simulate(prepared, 3, 20))
    assert not rendered.problems, "\n".join(rendered.problems)
    assert {"km_overall_survival.png", "state_occupancy.png", "symptom_control.png"} <= {Path(n).name for n in rendered.figures}


def test_time_axes_stop_where_few_remain_at_risk():
    from simulator.reporting.style import SHOWN_AT_RISK_SHARE, shown_months, time_ticks

    times = np.arange(0.0, 1201.0, 1.0)
    falling = pd.DataFrame({"strategy": "a", "time_months": times, "at_risk": np.maximum(1000 - 4 * times, 0)})
    # Fewer than 1% of 1,000 patients from month 248: past 20 years, so ticks every 5 years and the
    # axis runs to the next one.
    assert 1000 - 4 * 248 < SHOWN_AT_RISK_SHARE * 1000 <= 1000 - 4 * 247
    assert shown_months(falling, 1200, ["strategy"]) == 300.0
    assert list(time_ticks(300.0)) == [0.0, 60.0, 120.0, 180.0, 240.0, 300.0]
    # Many still followed at the horizon: the whole horizon, whatever the other strategy does.
    flat = pd.DataFrame({"strategy": "b", "time_months": times[:61], "at_risk": np.full(61, 500.0)})
    assert shown_months(pd.concat([falling[falling["time_months"] <= 60], flat]), 60, ["strategy"]) == 60.0
    assert shown_months(pd.concat([falling, flat.assign(time_months=flat["time_months"] * 5)]), 1200, ["strategy"]) == 1200.0
    assert len(time_ticks(1200.0)) <= 11 and len(time_ticks(120.0)) == 11


CAPACITY = {
    "name": "edge-capacity",
    "seed": 3,
    "replications": 2,
    "cohort": {"size": 1},
    "horizon_months": 36,
    "strategies": [
        "best-supportive-care",
        {
            "name": "resect-only",
            "description": "hepatectomy when resectable, else supportive care",
            "rules": [{"treatment": "hepatectomy"}],
        },
    ],
    "capacity": {
        "arrivals": {"catchment_population": 800000, "warmup_years": 0.25, "years": 1},
        "resources": {
            "mdt": {"capacity": 1, "schedule": [{"day": "wed", "start": 13, "hours": 2}]},
            "theatre": {"capacity": 1, "schedule": [{"day": "tue", "start": 8, "hours": 4}]},
            "nuclear_medicine": {"capacity": 1},
            "beds": {"capacity": 4},
        },
    },
}


@pytest.mark.slow
def test_capacity_scenario_with_an_unused_resource(write_scenario, tmp_path, rendered, capsys):
    path = write_scenario(CAPACITY)
    _cli(["compare", str(path), "--out", str(tmp_path / "compare"), "--workers", "1"], capsys)
    _check_intervals(read_csv(tmp_path / "compare" / "comparison.csv"))
    resources = read_csv(tmp_path / "compare" / "resources.csv")
    summary = resources.groupby("resource")[["max_in_use", "procedures_per_year"]].max()
    assert summary.at["nuclear_medicine", "max_in_use"] == 0  # the scenario does what the test needs
    report = (tmp_path / "compare" / "report.html").read_text(encoding="utf-8")
    assert "left out of the figures: nuclear_medicine" in report
    # Every table scrolls in its own box: the wide resource table no longer overflows the page.
    assert report.count("<table") == report.count('<div class="wide"><table') > 0
    table = resource_table(resources)
    for column in ("capacity", SUMMARY_HEADINGS["max_queue"], SUMMARY_HEADINGS["max_in_use"]):
        assert all(WHOLE.match(text) for text in table[column]), table[column]
    assert all(text.endswith("%") for text in table[SUMMARY_HEADINGS["utilisation"]])
    assert not rendered.problems, "\n".join(rendered.problems)
    queues = rendered.panels["queue_lengths.png"]  # a panel per used resource, none for the unused one
    assert len(queues) == 3 and not any("nuclear_medicine" in label for label in queues), queues


def test_the_checks_find_what_they_look_for():
    found = Rendered()
    fig, (empty, full) = plt.subplots(1, 2, figsize=(4, 3))
    full.plot([0, 1], [0, 1])
    fig.text(1.3, 0.5, "off the edge")
    fig.text(0.1, 0.1, "written")
    fig.text(0.11, 0.1, "over")
    fig.canvas.draw()
    found.check(fig, "planted.png")
    plt.close(fig)
    assert any("an empty panel" in p for p in found.problems) and any("off the edge" in p for p in found.problems)
    assert any("'written' and 'over' are written over each other" in p for p in found.problems), found.problems
    assert style.DPI > 0


def test_runs_survival_figure_keeps_each_strategys_colour(tmp_path, monkeypatch):
    """run's overall_survival.png followed Matplotlib's colour cycle, unlike every other figure."""
    from matplotlib.colors import to_hex

    from simulator.reporting.plots import overall_survival_figure

    drawn = {}
    original = Figure.savefig

    def savefig(fig, target, *args, **kwargs):
        drawn.update({line.get_label(): to_hex(line.get_color()) for line in fig.axes[0].get_lines()})
        return original(fig, target, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    names = ["guideline", "mine"]
    survival = pd.DataFrame(
        [
            {"strategy": s, "time_months": t, "survival": 1 - t / 100, "lower_95": 0.9 - t / 100, "upper_95": 1.0}
            for s in names
            for t in (0, 50)
        ]
    )
    overall_survival_figure(survival, tmp_path / "os.png", "title")
    assert drawn == style.strategy_colours(names)
