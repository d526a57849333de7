"""report.html: one self-contained file (figures embedded as base64 PNG, styles inline, no scripts,
no links to fetch) that a person can email and open in any browser."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..outcomes.metrics import metric_info
from . import numbers
from .numbers import REFERENCE
from .stress_des import stress_des_items
from .tables import COMPARATOR_METRICS, headline_table, metric_table

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments.compare import Comparison
    from ..experiments.variants import ScenarioAnalysis

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1150px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; } pre { background: #f6f6f6; padding: .7em; overflow-x: auto; font-size: .85em; }
.wide { max-width: 100%; overflow-x: auto; } .note { color: #555; font-size: .9em; } dl.facts dt { font-weight: bold; float: left; width: 15em; } dl.facts dd { margin-left: 15.5em; }
"""
RESULT_GROUPS = (("survival", "Survival"), ("symptoms", "Symptom control"), ("burden", "Treatment burden"), ("death", "Cause of death"))


def table_html(frame: pd.DataFrame, kinds: dict[str, str] | None = None, names: dict[str, str] | None = None) -> str:
    """A table of text cells; ``kinds`` (column -> kind of number) formats its numeric columns, ``names``
    renames them. A table wider than the page scrolls within its own box instead of overflowing it."""
    shown = numbers.format_columns(frame, kinds or {}, names)
    return f'<div class="wide">{shown.to_html(index=False, escape=True, border=0, na_rep="")}</div>'


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
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _facts(items: list[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items) + "</dl>"


def build_report(
    comparison: Comparison,
    figures: list[tuple[Path, str]],
    cohort: pd.DataFrame,
    context: dict,
    scenario_section: str = "",
    capacity_section: str = "",
) -> str:
    """The whole report as one HTML string. ``figures``: (png path, caption) in display order.
    ``scenario_section``: the scenario analysis (`nelm-sim scenarios`), shown before the base's results.
    ``capacity_section``: capacity and waiting for planners, after the main results."""
    prepared = comparison.prepared
    scenario = prepared.scenario
    names = comparison.strategies
    summary = comparison.summary
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>nelm-sim: {esc(scenario.name)} strategy comparison</title><style>{STYLE}</style></head><body>",
        f"<h1>Strategy comparison: {esc(scenario.name)}</h1>",
        f"<p>{esc(scenario.description or '')}</p>",
        "<h2>Scenario</h2>",
        _facts(
            [
                ("Scenario file", str(prepared.path)),
                ("Strategies", ", ".join(names)),
                ("Comparator", comparison.comparator),
                ("Patients", _patients_text(scenario)),
                ("Replications", _replication_text(comparison)),
                ("Horizon", f"{scenario.horizon_months:g} months"),
                ("Seed", str(scenario.seed)),
                ("Version", f"nelm-sim {context['versions'].get('nelm-sim', '?')}"),
            ]
        ),
        scenario_section,
        "<h2>Main results</h2>" if not scenario_section else "<h2>Main results of the base scenario</h2>",
        '<p class="note">Estimates are means over replications with t-based 95% confidence intervals; they describe the '
        "Monte Carlo uncertainty of the model's outputs, not uncertainty in its parameters. Hazard ratios are geometric means. "
        "With one replication no interval can be computed.</p>",
        table_html(headline_table(summary, names, comparison.comparator)),
    ]
    for path, caption in figures:
        parts.append(figure_html(path, caption))
    if capacity_section:
        parts.append(capacity_section)
    parts.append("<h2>All results</h2>")
    for group, title in RESULT_GROUPS:
        metrics = [m for m in summary["metric"].unique() if metric_info(m)[2] == group]
        parts += [f"<h3>{esc(title)}</h3>", table_html(metric_table(summary, names, metrics, comparison.comparator))]
    parts += [
        "<h2>The cohort</h2>",
        '<p class="note">Simulated baseline characteristics, all replications; every strategy treats these same patients.</p>',
        table_html(_cohort_rows(cohort), {"n": "count", "share": "percent"}),
        "<h2>Strategies</h2>",
    ]
    for strategy in prepared.strategies:
        parts.append(f"<h3>{esc(strategy.name)}</h3><p>{esc(strategy.description or '')}</p><ol>")
        parts += [f"<li>{esc(rule)}</li>" for rule in strategy.describe()]
        parts.append("</ol>")
        if strategy.telotristat:
            parts.append("<p>Telotristat is added when carcinoid-syndrome symptoms relapse on a somatostatin analogue.</p>")
    parts.append("<h2>Model description (STRESS-DES)</h2>")
    rows = stress_des_items(comparison, context)
    parts.append('<div class="wide"><table><tr><th>Item</th><th>Topic</th><th>This model and run</th></tr>')
    for number, topic, text in rows:
        cell = f"<pre>{esc(text)}</pre>" if "\n" in text else esc(text)
        parts.append(f"<tr><td>{esc(number)}</td><td>{esc(topic)}</td><td>{cell}</td></tr>")
    parts.append("</table></div>")
    parts += [
        "<h2>Parameter provenance</h2>",
        '<p class="note">Every number the model uses, with its source or the stated assumption; overrides name the scenario file.</p>',
        table_html(pd.DataFrame(context["provenance"])),
        "<h2>Reproducibility</h2>",
        _facts(
            [
                ("Seed", str(scenario.seed)),
                ("Scenario SHA-256", context["scenario_sha256"]),
                ("Python", context["python"]),
                ("Packages", ", ".join(f"{k} {v}" for k, v in context["versions"].items())),
            ]
        ),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _patients_text(scenario) -> str:
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
    esc = html.escape
    scenario = analysis.base
    metric_name = metric_info(analysis.metric)[0]
    parts = [
        "<h2>Scenario analysis</h2>",
        f"<p>The strategies are compared under {len(analysis.runs) - 1} variant(s) of the base scenario as well as the base itself. "
        f"Every run treats patients drawn with the same random numbers (seed {scenario.seed}, {scenario.replications} replication(s)): "
        "a variant that changes nothing gives exactly the base's results, and differences between variants come from what they "
        "change, not from chance. The sections after this one show the base scenario in full.</p>",
        "<h3>The variants</h3>",
    ]
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
    parts.append(table_html(pd.DataFrame(rows)))
    parts += [
        f"<h3>{esc(metric_name)} by variant</h3>",
        '<p class="note">Mean over replications with a t-based 95% confidence interval (Monte Carlo error); in brackets after it, '
        f"the difference from the same strategy in the base scenario{' (percentage points)' if metric_info(analysis.metric)[1] == 'share' else ''}. "
        f"Hazard ratios and life-years gained refer to {esc(analysis.comparator)} (or a variant's first strategy when it does without it).</p>",
        table_html(_variant_metric_table(analysis, analysis.metric)),
    ]
    words = _ranking_words(analysis)
    if words:
        parts.append(f"<p>{esc(words)}</p>")
    for path, caption in figures:
        parts.append(figure_html(path, caption))
    # Capacity scenarios: every resource's 90th-percentile wait per variant, for the planner.
    present = set(analysis.table()["metric"])
    waits = sorted(m for m in present if m.startswith("wait_p90_days_"))
    for metric in (*SCENARIO_TABLE_METRICS, *waits):
        if metric != analysis.metric and metric in present:
            parts += [f"<h3>{esc(metric_info(metric)[0])} by variant</h3>", table_html(_variant_metric_table(analysis, metric))]
    parts.append(
        '<p class="note">Every metric of every variant and strategy is in scenarios.csv; the variants and their changes in variants.csv; the paired difference of each variant from the base, with its 95% CI, in comparison.csv.</p>'
    )
    return "\n".join(parts)
