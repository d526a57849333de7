"""The health-economics section of report.html and the CHEERS 2022 checklist, and the report of the
commands whose whole subject is economics (`run`, `psa`, `dsa`).

The section shows what the command computed and nothing it did not: the base case, the incremental
analysis along the efficiency frontier, net monetary benefit at each willingness to pay, then, when
the tables carry them, costs by category (``cost_*`` columns), the QALY shortfall and severity weight
(``qaly_shortfall_*``, ``severity_weight``) and subgroup rows; a PSA adds the CE plane, CEAC, CEAF,
EVPI and convergence, a DSA the tornado. The checklist is data (``cheers2022.yaml``); each item links
the sections of the report it is rendered into and the files of the folder that hold it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from markupsafe import Markup

from ..config import LIFETIME_HORIZON_MONTHS
from ..io import read_yaml
from . import numbers
from .html_report import reproducibility_facts, table_html
from .tables import SUBGROUP_COLUMNS, cost_effectiveness_table, subgroup_rows, whole_cohort
from .templating import EmbeddedFigure, render

if TYPE_CHECKING:  # pragma: no cover
    from ..economics.settings import EconomicSettings
    from ..experiments.psa import PSASummary
    from ..experiments.runner import PreparedScenario

CHEERS_FILE = Path(__file__).with_name("cheers2022.yaml")
CHEERS_ITEMS = 28

# Costs by category: economics.csv's columns of the mean discounted cost of each category per patient.
COST_CATEGORY_PREFIX = "cost_"
COST_CATEGORY_LABELS = {
    "cost_drugs": "drugs",
    "cost_procedures": "procedures",
    "cost_hospital_stay": "hospital stay",
    "cost_adverse_events": "adverse events",
    "cost_follow_up": "follow-up",
    "cost_end_of_life": "end of life",
}
# Severity (NICE PMG36 severity modifier): column -> (heading, kind of number).
SEVERITY_COLUMNS = {
    "qaly_shortfall_absolute": ("absolute QALY shortfall", "qalys"),
    "qaly_shortfall_proportional": ("proportional QALY shortfall", "percent"),
    "severity_weight": ("severity weight", "ratio"),
}
INTERVAL_SUFFIXES = ("_lower_95", "_upper_95")
UNDISCOUNTED = "_undiscounted"
# The base-case table: mean per patient with its interval, discounted, then undiscounted.
BASE_CASE = (("costs", "money", "costs"), ("qalys", "qalys", "QALYs"), ("life_years", "years", "life-years"))
# Sections of the section template, by id: the CHEERS items point at these.
HEADING = re.compile(r'<h([1-4]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)


@dataclass
class EconomicsView:
    """What the health-economics section shows, as the command computed it.

    ``results``: economics.csv (or, for a PSA, psa_summary.csv: the same column names); ``icer``:
    icer.csv; ``basis``: one sentence on what the means are over. ``figures``: (section id, png path,
    caption) in display order, ids among ``FIGURE_SECTIONS``."""

    settings: EconomicSettings
    strategies: list[str]
    comparator: str
    results: pd.DataFrame
    icer: pd.DataFrame
    basis: str
    horizon_months: float
    psa: PSASummary | None = None
    figures: list[tuple[str, Path, str]] = field(default_factory=list)
    tornado: pd.DataFrame | None = None

    @classmethod
    def of(cls, prepared: PreparedScenario, results: pd.DataFrame, icer: pd.DataFrame, basis: str, **extra) -> EconomicsView:
        """The view of a scenario's economics tables (its settings and strategies; icer.csv's comparator)."""
        from ..economics.settings import EconomicSettings

        comparator = str(icer["comparator"].iloc[0])
        names = [s.name for s in prepared.strategies]
        settings = EconomicSettings.from_scenario(prepared.scenario)
        return cls(settings, names, comparator, results, icer, basis, prepared.scenario.horizon_months, **extra)


FIGURE_SECTIONS = {
    "he-ce-plane": "Cost-effectiveness plane",
    "he-ceac": "Cost-effectiveness acceptability curves (CEAC)",
    "he-ceaf": "Cost-effectiveness acceptability frontier (CEAF)",
    "he-evpi": "Expected value of perfect information (EVPI)",
    "he-convergence": "Convergence of the PSA",
    "he-dsa": "One-way sensitivity analysis (tornado)",
}


# ------------------------------------------------------------------------------ the tables


def _in_order(frame: pd.DataFrame, strategies: Sequence[str]) -> pd.DataFrame:
    order = {name: k for k, name in enumerate(strategies)}
    return frame.sort_values("strategy", key=lambda s: s.map(order), kind="stable")


def base_case_table(results: pd.DataFrame, strategies: Sequence[str], currency: str, interval: str = "95% CI") -> pd.DataFrame:
    rows = []
    for row in _in_order(whole_cohort(results), strategies).to_dict("records"):
        line = {"strategy": row["strategy"]}
        for column, kind, words in BASE_CASE:
            if column in row:
                unit = f", {currency}" if kind == "money" else ""
                line[f"{words}{unit} [{interval}]"] = numbers.interval(
                    row[column], row.get(f"{column}_lower_95"), row.get(f"{column}_upper_95"), kind
                )
        for column, kind, words in BASE_CASE:
            if f"{column}{UNDISCOUNTED}" in row:
                line[f"{words}, undiscounted"] = numbers.number(row[f"{column}{UNDISCOUNTED}"], kind)
        rows.append(line)
    return pd.DataFrame(rows)


def with_draw_means(summary: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """psa_summary.csv's rows with the mean over draws of every other value column of psa.csv (cost
    categories, QALY shortfall, ... when the PSA records them), for the report's optional tables."""
    cohort = whole_cohort(outcomes)
    extra = [
        c for c in cohort.columns if c not in summary.columns and c not in ("draw", "strategy") and pd.api.types.is_numeric_dtype(cohort[c])
    ]
    if not extra:
        return summary
    return summary.merge(cohort.groupby("strategy", sort=False)[extra].mean(), left_on="strategy", right_index=True, how="left")


def _status(row: dict) -> str:
    status = str(row["status"]).replace("_", " ")
    return status if row["status"] == "frontier" else f"{status} by {row['dominated_by']}"


def incremental_table(icer: pd.DataFrame, currency: str) -> pd.DataFrame:
    """icer.csv for reading: strategies by cost, each frontier strategy against the previous one."""
    rows = []
    for row in whole_cohort(icer).to_dict("records"):
        frontier = row["status"] == "frontier" and bool(row["reference"])
        rows.append(
            {
                "strategy": row["strategy"],
                f"costs, {currency}": numbers.money(row["costs"]),
                "QALYs": numbers.qalys(row["qalys"]),
                "status": _status(row),
                "compared with": row["reference"] if frontier else "",
                f"incremental costs, {currency}": numbers.money(row["incremental_costs"]) if frontier else "",
                "incremental QALYs": numbers.qalys(row["incremental_qalys"]) if frontier else "",
                f"ICER, {currency} per QALY": numbers.money(row["icer"]) if frontier else "",
            }
        )
    return pd.DataFrame(rows)


def frontier_words(icer: pd.DataFrame, currency: str) -> str:
    """The efficiency frontier in one sentence: cheapest first, each step with its ICER."""
    table = whole_cohort(icer)
    frontier = table[table["status"] == "frontier"]
    steps = [str(frontier["strategy"].iloc[0])]
    for row in frontier.iloc[1:].to_dict("records"):
        steps.append(f"{row['strategy']} (ICER {currency} {numbers.money(row['icer'])} per QALY against {row['reference']})")
    words = (
        "The efficiency frontier runs from " + " to ".join(steps) + "."
        if len(steps) > 1
        else f"{steps[0]} alone is on the efficiency frontier."
    )
    off = table[table["status"] != "frontier"]
    if len(off):
        words += " Off the frontier: " + "; ".join(f"{r['strategy']} ({_status(r)})" for r in off.to_dict("records")) + "."
    return words


def nmb_table(icer: pd.DataFrame, strategies: Sequence[str], settings: EconomicSettings, comparator: str) -> tuple[pd.DataFrame, list[str]]:
    """Per strategy, NMB and INMB against the comparator at each willingness to pay; and a sentence per
    willingness to pay naming the strategy with the highest NMB."""
    table = _in_order(whole_cohort(icer), strategies)
    rows, words = [], []
    for row in table.to_dict("records"):
        line = {"strategy": row["strategy"]}
        for wtp in settings.willingness_to_pay:
            label = numbers.money(wtp)
            line[f"NMB at {label}"] = numbers.money(row[f"nmb_{wtp:g}"])
            line[f"INMB vs {comparator} at {label}"] = (
                numbers.REFERENCE if row["strategy"] == comparator else numbers.money(row[f"inmb_{wtp:g}"])
            )
        rows.append(line)
    for wtp in settings.willingness_to_pay:
        best = table.loc[table[f"nmb_{wtp:g}"].idxmax()]
        words.append(
            f"At {settings.currency} {numbers.money(wtp)} per QALY, {best['strategy']} has the highest net monetary benefit "
            f"({settings.currency} {numbers.money(best[f'nmb_{wtp:g}'])} per patient)."
        )
    return pd.DataFrame(rows), words


def cost_categories(results: pd.DataFrame) -> list[str]:
    """economics.csv's cost-category columns (discounted means), known ones first."""
    found = [
        c
        for c in results.columns
        if c.startswith(COST_CATEGORY_PREFIX) and not c.endswith(INTERVAL_SUFFIXES) and not c.endswith(UNDISCOUNTED)
    ]
    return [c for c in COST_CATEGORY_LABELS if c in found] + [c for c in found if c not in COST_CATEGORY_LABELS]


def category_label(column: str) -> str:
    return COST_CATEGORY_LABELS.get(column, column.removeprefix(COST_CATEGORY_PREFIX).replace("_", " "))


def costs_by_category_table(results: pd.DataFrame, strategies: Sequence[str], currency: str) -> pd.DataFrame | None:
    columns = cost_categories(results)
    if not columns:
        return None
    rows = []
    for row in _in_order(whole_cohort(results), strategies).to_dict("records"):
        line = {"strategy": row["strategy"]}
        for column in columns:
            share = row[column] / row["costs"] if row.get("costs") else float("nan")
            line[f"{category_label(column)}, {currency}"] = f"{numbers.money(row[column])} ({numbers.percent(share)})"
        line[f"total, {currency}"] = numbers.money(row.get("costs"))
        rows.append(line)
    return pd.DataFrame(rows)


def severity_table(results: pd.DataFrame, strategies: Sequence[str]) -> pd.DataFrame | None:
    columns = [c for c in SEVERITY_COLUMNS if c in results.columns]
    if not columns:
        return None
    shown = _in_order(whole_cohort(results), strategies)[["strategy", *columns]]
    return numbers.format_columns(shown, {c: SEVERITY_COLUMNS[c][1] for c in columns}, {c: SEVERITY_COLUMNS[c][0] for c in columns})


def subgroup_table(results: pd.DataFrame, icer: pd.DataFrame, strategies: Sequence[str], currency: str) -> pd.DataFrame | None:
    """Subgroup rows of economics.csv, with each strategy's place in its subgroup's incremental analysis
    when icer.csv has the same subgroup rows."""
    rows = subgroup_rows(results)
    if rows.empty:
        return None
    keys = [c for c in SUBGROUP_COLUMNS if c in rows.columns]
    shown = rows[[*keys, "strategy", *[c for c, _, _ in BASE_CASE if c in rows.columns], *[c for c in ("patients",) if c in rows.columns]]]
    shown = _in_order(shown, strategies).sort_values(keys, kind="stable")
    kinds = {c: k for c, k, _ in BASE_CASE} | {"patients": "count"}
    names = {c: (f"{w}, {currency}" if k == "money" else w) for c, k, w in BASE_CASE} | {"subgroup_value": "value"}
    table = numbers.format_columns(shown, kinds, names)
    incremental = subgroup_rows(icer)
    if not incremental.empty and set(keys) <= set(incremental.columns):
        found = {tuple(str(row[k]) for k in [*keys, "strategy"]): row for row in incremental.to_dict("records")}
        places = [found.get(tuple(str(v) for v in row)) for row in shown[[*keys, "strategy"]].itertuples(index=False)]
        table["status"] = [_status(p) if p else "" for p in places]
        table[f"ICER, {currency} per QALY"] = [
            numbers.money(p["icer"]) if p and p["status"] == "frontier" and not pd.isna(p["icer"]) else "" for p in places
        ]
    return table


def evpi_table(psa: PSASummary, settings: EconomicSettings) -> pd.DataFrame:
    """EVPI per patient and for the decision population at the scenario's willingness-to-pay values."""
    evpi = psa.evpi.set_index("wtp")
    return pd.DataFrame(
        [
            {
                f"willingness to pay, {settings.currency} per QALY": numbers.money(wtp),
                f"EVPI per patient, {settings.currency}": numbers.money(evpi.at[wtp, "evpi_per_patient"]),
                f"EVPI for {numbers.count(psa.population)} patients, {settings.currency}": numbers.money(evpi.at[wtp, "evpi_population"]),
            }
            for wtp in settings.willingness_to_pay
        ]
    )


def tornado_table(tornado: pd.DataFrame, currency: str, rows: int = 15) -> pd.DataFrame:
    kinds = {"low": "value", "high": "value", "inmb_low": "money", "inmb_high": "money"}
    names = {"low": "low bound", "high": "high bound", "inmb_low": f"INMB at low, {currency}", "inmb_high": f"INMB at high, {currency}"}
    return numbers.format_columns(tornado[["parameter", "low", "high", "inmb_low", "inmb_high"]].head(rows), kinds, names)


PERSPECTIVES = {"nhs_pss": "NHS and personal social services"}


def perspective_words(settings: EconomicSettings) -> str:
    return PERSPECTIVES.get(settings.perspective, settings.perspective)


def horizon_words(months: float) -> str:
    words = f"{numbers.count(months)} months ({numbers.years(months / 12)} years)"
    return words + "; lifetime: each patient is followed to age 100 at most" if months == LIFETIME_HORIZON_MONTHS else words


def settings_facts(view: EconomicsView) -> list[tuple[str, str]]:
    settings = view.settings
    return [
        ("Perspective", perspective_words(settings)),
        ("Currency", settings.currency),
        ("Price year", str(settings.price_year) if settings.price_year is not None else "not set: each cost as its source states it"),
        ("Time horizon", horizon_words(view.horizon_months)),
        ("Discount rate, costs", numbers.percent(settings.discount_rate_costs)),
        ("Discount rate, health effects", numbers.percent(settings.discount_rate_effects)),
        ("Willingness to pay", ", ".join(f"{settings.currency} {numbers.money(w)} per QALY" for w in settings.willingness_to_pay)),
        ("Comparator of the net benefit", view.comparator),
        ("Strategies", ", ".join(view.strategies)),
    ]


# ------------------------------------------------------------------------------ rendering


def economics_section(view: EconomicsView) -> Markup:
    """The "Health economics" section (templates/economics.html.j2)."""
    settings, currency = view.settings, view.settings.currency
    nmb, nmb_words = nmb_table(view.icer, view.strategies, settings, view.comparator)
    optional = {
        "costs_by_category": costs_by_category_table(view.results, view.strategies, currency),
        "severity": severity_table(view.results, view.strategies),
        "subgroups": subgroup_table(view.results, view.icer, view.strategies, currency),
    }
    psa = view.psa
    return render(
        "economics.html.j2",
        view=view,
        settings=settings_facts(view),
        perspective=perspective_words(settings),
        horizon=horizon_words(view.horizon_months),
        frontier=frontier_words(view.icer, currency),
        nmb_words=nmb_words,
        base_case=table_html(base_case_table(view.results, view.strategies, currency, "95% CI" if psa is None else "95% interval")),
        incremental=table_html(incremental_table(view.icer, currency)),
        nmb=table_html(nmb),
        **{name: (table_html(table) if table is not None else None) for name, table in optional.items()},
        psa_table=table_html(cost_effectiveness_table(psa.summary, psa.icer, settings)) if psa is not None else None,
        evpi=table_html(evpi_table(psa, settings)) if psa is not None else None,
        draws=int(psa.summary["draws"].iloc[0]) if psa is not None else None,
        tornado=table_html(tornado_table(view.tornado, currency)) if view.tornado is not None else None,
        figures={section: EmbeddedFigure.of(path, caption) for section, path, caption in view.figures},
        figure_titles=FIGURE_SECTIONS,
    )


@cache
def _cheers() -> dict:
    return read_yaml(CHEERS_FILE, "CHEERS checklist")


def cheers_items() -> tuple[dict, ...]:
    """The 28 CHEERS 2022 items as cheers2022.yaml gives them."""
    return tuple(_cheers()["items"])


def cheers_source() -> str:
    return str(_cheers()["source"])


def report_sections(page: str) -> dict[str, str]:
    """Section id -> heading text of every headed section of a rendered page."""
    return {match.group(2): re.sub(r"<[^>]+>", "", match.group(3)).strip() for match in HEADING.finditer(page)}


def cheers_rows(page: str, files: Sequence[str]) -> list[dict]:
    """Each item with the sections of ``page`` and the ``files`` of the folder that report it."""
    sections = report_sections(page)
    present = set(files)
    rows = []
    for item in cheers_items():
        links = [(section, sections[section]) for section in item.get("report", []) if section in sections]
        held = [name for name in item.get("files", []) if name in present]
        readme = list(item.get("readme", []))
        if item.get("not_applicable"):
            text, state = item["not_applicable"], "not applicable"
        elif links or held:
            text, state = item["text"], "reported"
        else:
            text, state = item.get("absent", item["text"]), ("reported" if readme else "not reported")
        rows.append({**item, "links": links, "held": held, "readme": readme, "text": text, "state": state})
    return rows


def folder_files(folder: Path) -> list[str]:
    """The files of an output folder being written, and those every folder ends with."""
    written = [path.relative_to(folder).as_posix() for path in Path(folder).rglob("*") if path.is_file()]
    return sorted({*written, *FOLDER_FILES})


FOLDER_FILES = ("report.html", "manifest.json", "scenario.resolved.yaml")


def cheers_section(page: str, files: Sequence[str]) -> Markup:
    """The CHEERS 2022 checklist of a report whose other sections are ``page`` (rendered without it)."""
    return render("cheers.html.j2", rows=cheers_rows(page, files), source=cheers_source())


def economics_report(
    prepared: PreparedScenario,
    command: str,
    view: EconomicsView,
    context: dict,
    folder: Path,
    population: str,
    figures: Sequence[tuple[str, Path, str]] = (),
    cohort: pd.DataFrame | None = None,
) -> str:
    """report.html of `run`, `psa` and `dsa`: the scenario, ``figures`` ((id, png, caption): what the
    command shows besides its economics), the health-economics section, the strategies, the CHEERS
    checklist, the parameters and what reproduces the run. ``folder``: the output folder as written so far."""
    scenario = prepared.scenario
    values = dict(
        scenario=scenario,
        command=command,
        scenario_facts=[
            ("Scenario file", str(prepared.path)),
            ("Command", f"nelm-sim {command}"),
            ("Strategies", ", ".join(view.strategies)),
            ("Patients", population),
            ("Horizon", f"{scenario.horizon_months:g} months"),
            ("Seed", str(scenario.seed)),
            ("Version", f"nelm-sim {context['versions'].get('nelm-sim', '?')}"),
        ],
        extra_figures=[(section, title, EmbeddedFigure.of(path, caption)) for section, path, caption, title in _titled(figures)],
        cohort=table_html(cohort, {"n": "count", "share": "percent"}) if cohort is not None else None,
        economics_section=economics_section(view),
        strategies=prepared.strategies,
        provenance=table_html(pd.DataFrame(context["provenance"])),
        reproducibility=reproducibility_facts(scenario.seed, context),
        cheers_section="",
    )
    values["cheers_section"] = cheers_section(render("economics_report.html.j2", **values), folder_files(folder))
    return render("economics_report.html.j2", **values) + "\n"


FIGURE_TITLES = {"survival": "Overall survival"}


def _titled(figures: Sequence[tuple[str, Path, str]]):
    for section, path, caption in figures:
        yield section, path, caption, FIGURE_TITLES.get(section, caption)


# The PSA's figures in the report: (section id, file name in figures/, what it shows).
PSA_FIGURES = (
    ("he-ce-plane", "ce_plane", "cost-effectiveness plane"),
    ("he-ceac", "ceac", "acceptability curves"),
    ("he-ceaf", "ceaf", "acceptability frontier"),
    ("he-evpi", "evpi", "expected value of perfect information"),
    ("he-convergence", "convergence", "convergence of the mean"),
)


def psa_figure_captions(title: str) -> list[tuple[str, str, str]]:
    return [(section, name, f"{title}: {words}") for section, name, words in PSA_FIGURES]
