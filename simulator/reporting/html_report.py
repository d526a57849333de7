"""report.html of `compare` and `scenarios`: one self-contained file (figures embedded as base64 PNG,
styles inline, no scripts, no links to fetch) that a person can email and open in any browser. The
page is the template ``templates/comparison.html.j2``; this module prepares what it shows."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from markupsafe import Markup

from ..outcomes.metrics import metric_info
from . import numbers
from .numbers import REFERENCE
from .stress_des import stress_des_items
from .tables import COMPARATOR_METRICS, headline_table, metric_table
from .templating import EmbeddedFigure, embedded, render

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments.compare import Comparison
    from ..experiments.variants import ScenarioAnalysis

RESULT_GROUPS = (("survival", "Survival"), ("symptoms", "Symptom control"), ("burden", "Treatment burden"), ("death", "Cause of death"))


def table_html(frame: pd.DataFrame, kinds: dict[str, str] | None = None, names: dict[str, str] | None = None) -> str:
    """A table of text cells; ``kinds`` (column -> kind of number) formats its numeric columns, ``names``
    renames them. A table wider than the page scrolls within its own box instead of overflowing it."""
    shown = numbers.format_columns(frame, kinds or {}, names)
    return Markup(f'<div class="wide">{shown.to_html(index=False, escape=True, border=0, na_rep="")}</div>')


def _cohort_rows(cohort: pd.DataFrame) -> pd.DataFrame:
    """The cohort's characteristics for reading: a continuous one's mean and SD in its level's text."""
    rows = cohort.copy()
    if {"mean", "sd"} <= set(rows.columns):
        continuous = rows["mean"].notna()
        rows.loc[continuous, "level"] = [
            f"mean {numbers.number(m, 'age')} (SD {numbers.number(sd, 'age')})"
            for m, sd in zip(rows.loc[continuous, "mean"], rows.loc[continuous, "sd"])
        ]
        rows = rows.drop(columns=["mean", "sd"])
    return rows


def figure_html(path: Path, caption: str) -> str:
    """One embedded figure (the page and other callers that place a figure on their own)."""
    return render("figure.html.j2", item=EmbeddedFigure.of(path, caption))


def build_report(
    comparison: Comparison,
    figures: list[tuple[Path, str]],
    cohort: pd.DataFrame,
    context: dict,
    scenario_section: str = "",
    capacity_section: str = "",
    economics_section: str = "",
    cheers: Callable[[str], str] | None = None,
) -> str:
    """The whole report as one HTML string. ``figures``: (png path, caption) in display order.
    ``scenario_section``: the scenario analysis (`nelm-sim scenarios`), shown before the base's results.
    ``capacity_section``: capacity and waiting for planners, after the main results; then
    ``economics_section`` (economics_report.economics_section). ``cheers``: given the report's
    other sections, the CHEERS 2022 checklist pointing into them (economics_report.cheers_section)."""
    prepared = comparison.prepared
    scenario = prepared.scenario
    names = comparison.strategies
    summary = comparison.summary
    groups = []
    for group, title in RESULT_GROUPS:
        metrics = [m for m in summary["metric"].unique() if metric_info(m)[2] == group]
        groups.append((title, table_html(metric_table(summary, names, metrics, comparison.comparator))))
    values = dict(
        scenario=scenario,
        scenario_facts=[
            ("Scenario file", str(prepared.path)),
            ("Strategies", ", ".join(names)),
            ("Comparator", comparison.comparator),
            ("Patients", patients_text(scenario)),
            ("Replications", _replication_text(comparison)),
            ("Horizon", f"{scenario.horizon_months:g} months"),
            ("Seed", str(scenario.seed)),
            ("Version", f"nelm-sim {context['versions'].get('nelm-sim', '?')}"),
        ],
        scenario_section=Markup(scenario_section),
        headline=table_html(headline_table(summary, names, comparison.comparator)),
        main_figures=embedded(figures),
        capacity_section=Markup(capacity_section),
        economics_section=Markup(economics_section),
        result_groups=groups,
        cohort=table_html(_cohort_rows(cohort), {"n": "count", "share": "percent"}),
        strategies=prepared.strategies,
        stress_des=stress_des_items(comparison, context),
        provenance=table_html(pd.DataFrame(context["provenance"])),
        reproducibility=reproducibility_facts(scenario.seed, context),
        cheers_section="",
    )
    if cheers is not None:
        values["cheers_section"] = Markup(cheers(render("comparison.html.j2", **values)))
    return render("comparison.html.j2", **values) + "\n"


def reproducibility_facts(seed: int, context: dict) -> list[tuple[str, str]]:
    return [
        ("Seed", str(seed)),
        ("Scenario SHA-256", context["scenario_sha256"]),
        ("Python", context["python"]),
        ("Packages", ", ".join(f"{k} {v}" for k, v in context["versions"].items())),
    ]


def patients_text(scenario) -> str:
    arrivals = scenario.capacity.arrivals if scenario.capacity is not None else None
    if arrivals is not None:
        return (
            f"open population: arrivals from a catchment of {numbers.count(arrivals.catchment_population)} people over {arrivals.years:g} years"
            f" after a warm-up of {arrivals.warmup_years:g} years (warm-up arrivals left out)"
        )
    return f"{numbers.count(scenario.cohort.size)} per strategy and replication" + (
        f", all aged {scenario.cohort.age:g}" if scenario.cohort.age else ""
    )


def _replication_text(comparison: Comparison) -> str:
    if comparison.precision is None:
        return f"{comparison.replications} (fixed)"
    state = "reached" if comparison.precision_met else "not reached; stopped at the maximum"
    return f"{comparison.replications}, chosen for a relative 95% CI half-width of {comparison.precision:g} ({state})"


# ---------------------------------------------------------------------------------------------
# Scenario analysis (`nelm-sim scenarios`)

SCENARIO_TABLE_METRICS = ("median_os_months", "mean_months_uncontrolled")  # shown after the chosen metric


def _difference(value: float, base: float, kind: str) -> str:
    if math.isnan(value) or math.isnan(base):
        return ""
    return f" ({numbers.signed(value - base, kind)})"


def _variant_metric_table(analysis: ScenarioAnalysis, metric: str) -> pd.DataFrame:
    """Variants as rows, strategies as columns: 'estimate [95% CI] (difference from the base)'."""
    table = analysis.table()
    table = table[table["metric"] == metric]
    unit = metric_info(metric)[1]
    kind = numbers.kind_of_unit(unit)
    base = analysis.runs[0].name
    cells = {(row.variant, row.strategy): (row.estimate, row.lower, row.upper) for row in table.itertuples()}
    rows = []
    for result in analysis.results:
        name = result.run.name
        row = {"variant": name}
        for strategy in analysis.strategies:
            if (name, strategy) not in cells:
                row[strategy] = "not in this variant"
                continue
            estimate, lower, upper = cells[(name, strategy)]
            if strategy == analysis.comparator and metric in COMPARATOR_METRICS:
                row[strategy] = REFERENCE
                continue
            text = numbers.interval(estimate, lower, upper, kind)
            if name != base and (base, strategy) in cells:
                text += _difference(estimate, cells[(base, strategy)][0], kind)
            row[strategy] = text
        best = analysis.best_strategy(result, metric)
        if best is not None:
            row["best"] = best
        rows.append(row)
    return pd.DataFrame(rows)


def _ranking_words(analysis: ScenarioAnalysis) -> str:
    label = metric_info(analysis.metric)[0].lower()
    base_best = analysis.best_strategy(analysis.base_result)
    if base_best is None:
        return ""
    changed = []
    for result in analysis.results[1:]:
        best = analysis.best_strategy(result)
        if best is not None and best != base_best:
            changed.append(f"{result.run.name} ({best})")
    if not changed:
        return f"{base_best} has the best {label} in the base scenario and in every variant."
    return f"{base_best} has the best {label} in the base scenario; another strategy is best in: {', '.join(changed)}."


def scenario_analysis_section(analysis: ScenarioAnalysis, figures: list[tuple[Path, str]]) -> str:
    """The scenario-analysis section: the variants in plain words, what changed, the chosen metric by
    variant and strategy, and the figures."""
    scenario = analysis.base
    rows = []
    for result in analysis.results:
        run = result.run
        changes = analysis.changes.get(run.name, [])
        rows.append(
            {
                "variant": run.name,
                "what it is": run.description or ("the scenario file as written" if run.kind == "base" else ""),
                "what changed from the base": "; ".join(changes)
                if changes
                else ("(the base)" if run.kind == "base" else "nothing: reproduces the base"),
            }
        )
    # Capacity scenarios: every resource's 90th-percentile wait per variant, for the planner.
    present = set(analysis.table()["metric"])
    waits = sorted(m for m in present if m.startswith("wait_p90_days_"))
    others = [
        (metric_info(metric)[0], table_html(_variant_metric_table(analysis, metric)))
        for metric in (*SCENARIO_TABLE_METRICS, *waits)
        if metric != analysis.metric and metric in present
    ]
    return render(
        "scenario_analysis.html.j2",
        variant_count=len(analysis.runs) - 1,
        seed=scenario.seed,
        replications=scenario.replications,
        variants=table_html(pd.DataFrame(rows)),
        metric_name=metric_info(analysis.metric)[0],
        share=metric_info(analysis.metric)[1] == "share",
        comparator=analysis.comparator,
        metric_table=table_html(_variant_metric_table(analysis, analysis.metric)),
        ranking=_ranking_words(analysis),
        variant_figures=embedded(figures),
        other_metrics=others,
    )
