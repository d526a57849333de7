"""The comparison's figures have what a reader needs: axis labels, one curve per strategy, an at-risk
table, a panel per strategy (issue 5, criterion 5). Their look was reviewed by eye."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simulator.config import Scenario
from simulator.experiments.compare import run_comparison
from simulator.experiments.runner import prepare
from simulator.outcomes.survival import at_risk_counts, survival_table
from simulator.outcomes.timecourse import swimmer_data
from simulator.reporting.comparison_figures import SWIMMER_PATIENTS
from simulator.reporting.pathway_figures import occupancy_figure, swimmer_figure, symptom_figure
from simulator.reporting.style import tick_step
from simulator.reporting.survival_figures import forest_figure, km_figure

from .conftest import tiny_scenario

STRATEGIES = ["surgery-first", "iat-first", "best-supportive-care"]
HORIZON = 120.0


@pytest.fixture(scope="module")
def comparison():
    scenario = Scenario.model_validate(tiny_scenario(replications=2, cohort={"size": 80}, strategies=STRATEGIES, horizon_months=HORIZON))
    return run_comparison(prepare(scenario, "scenario.yaml"), comparator="best-supportive-care")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labelled_lines(ax) -> list[str]:
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_kaplan_meier_has_a_curve_per_strategy_and_an_at_risk_table(comparison):
    patients = comparison.patients
    ticks = list(np.arange(0.0, HORIZON + 1e-9, tick_step(HORIZON)))
    at_risk = pd.DataFrame(
        {t: [at_risk_counts(patients.loc[patients["strategy"] == s, "os_months"], [t])[0] for s in STRATEGIES] for t in ticks},
        index=STRATEGIES,
    )
    fig = km_figure(survival_table(patients, STRATEGIES), at_risk, STRATEGIES, "title", "Overall survival", HORIZON)
    curves, table = fig.axes
    assert _labelled_lines(curves) == STRATEGIES
    assert curves.get_xlabel().startswith("Months") and curves.get_ylabel() == "Overall survival"
    assert [t.get_text() for t in curves.get_legend().get_texts()] == STRATEGIES
    numbers = [t.get_text() for t in table.texts]
    assert len(numbers) == len(STRATEGIES) * len(ticks)
    assert numbers[0] == f"{2 * 80:,}"  # everyone is at risk at time 0, both replications pooled
    assert [t.get_text() for t in table.get_yticklabels()] == STRATEGIES


def test_forest_plot_has_one_estimate_per_compared_strategy(comparison):
    hazards = comparison.summary[comparison.summary["metric"] == "hr_os_vs_comparator"]
    fig = forest_figure(hazards, "best-supportive-care", STRATEGIES, comparison.replications)
    ax = fig.axes[0]
    assert _labelled_lines(ax) == ["surgery-first", "iat-first"]
    assert "best-supportive-care" in ax.get_xlabel() and ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["surgery-first", "iat-first"]


def test_symptom_figure_has_a_line_per_strategy_in_each_panel(comparison):
    fig = symptom_figure(comparison.symptom_curve, STRATEGIES, HORIZON)
    for ax in fig.axes:
        assert _labelled_lines(ax) == STRATEGIES
        assert ax.get_xlabel() and ax.get_ylabel()
        ys = np.concatenate([line.get_ydata() for line in ax.get_lines()])
        assert np.nanmin(ys) >= 0 and np.nanmax(ys) <= 1


def test_occupancy_has_a_stacked_panel_per_strategy_that_fills_the_cohort(comparison):
    fig = occupancy_figure(comparison.occupancy, STRATEGIES, HORIZON)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == STRATEGIES
    groups = comparison.occupancy["group"].nunique()
    for ax in panels:
        assert len(ax.collections) == groups
    assert panels[0].get_ylabel() == "Share of cohort" and panels[-1].get_xlabel() == "Months"
    totals = comparison.occupancy.groupby(["strategy", "month"])["share"].sum()
    assert np.allclose(totals, 1.0)


def test_swimmer_plot_shows_the_sample_patients(comparison):
    events = comparison.first_events
    sample = sorted(events["patient_id"].unique())[:SWIMMER_PATIENTS]
    lines, markers = swimmer_data(events, "surgery-first", 0, sample)
    fig = swimmer_figure(lines, markers, "surgery-first", HORIZON, sorted(lines["treatment"].unique()))
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == len(sample) == SWIMMER_PATIENTS
    assert len(ax.patches) == len(lines)  # one bar per line of therapy
    assert ax.get_xlabel().startswith("Months") and "surgery-first" in ax.get_title()


def test_a_strategy_keeps_its_colour_in_every_figure_whatever_else_is_shown():
    """Colours used to follow the position in each figure's list (issue 20, item 3)."""
    from simulator.reporting.style import strategy_colours, treatment_colours

    bundled = ["surgery-first", "iat-first", "systemic-first", "watch-and-wait", "guideline", "best-supportive-care"]
    every = [*bundled, "mine", "yours"]
    full = strategy_colours(every)
    assert len(set(full.values())) == len(every)  # distinct within one figure
    assert strategy_colours(every[::-1]) == full  # order does not matter
    for subset in (bundled[2:], ["best-supportive-care", "mine"], ["yours", "surgery-first"], ["guideline"]):
        shown = strategy_colours(subset)
        assert all(shown[name] == full[name] for name in subset if name in bundled)
    # A strategy of the user's own keeps its colour from figure to figure (unless two such names
    # share a colour slot in one figure; then the later of the two in name order takes the next one).
    assert strategy_colours(["mine", "surgery-first"])["mine"] == strategy_colours(["mine", "guideline", "iat-first"])["mine"]
    treatments = ["tace", "everolimus", "prrt", "best_supportive_care"]
    assert treatment_colours(treatments)["prrt"] == treatment_colours(["prrt"])["prrt"]


def test_one_strategy_compare_prints_nothing_but_its_own_lines(write_scenario, tmp_path, capfd):
    """With one strategy there is no forest plot to draw: no empty figure, no Matplotlib warning on stderr
    (issue 19 item 16, issue 20 item 3)."""
    from simulator.cli import main

    from .conftest import tiny_scenario

    path = write_scenario(tiny_scenario(strategies=["surgery-first"], cohort={"size": 30}, replications=2))
    assert main(["compare", str(path), "--quiet", "--workers", "1", "--out", str(tmp_path / "one")]) == 0
    err = capfd.readouterr().err
    assert [line for line in err.splitlines() if line.strip() and not line.startswith("nelm-sim:")] == [], err
    assert not (tmp_path / "one" / "figures" / "hazard_ratios.png").exists()
