"""The what-if page (Streamlit): controls in the sidebar, results in two tabs.

Layout only: the settings and their validation are in ``settings``, the computations in ``compute``,
the capacity hooks in ``capacity``. Every input is a bounded widget (no free text, no file upload,
no path), so nothing typed on the page can open a file or run code.
"""

from __future__ import annotations

import contextvars
import math

import streamlit as st

from ..errors import UserInputError
from ..reporting import numbers
from ..reporting.capacity_report import SUMMARY_HEADINGS, SUMMARY_KINDS
from ..reporting.tables import without_reference_rows
from . import capacity, compute
from .settings import (
    BUNDLED_SCENARIOS,
    CONTROLS,
    MIN_STRATEGIES,
    RUN_DESIGN_DEFAULT,
    RUN_DESIGN_RANGES,
    SEED_FIGURE_PATIENTS,
    SEED_FOLDER,
    SEED_RANGE,
    PageSettings,
    RunDesign,
    build_prepared,
    bundled_scenario,
    default_strategies,
    default_values,
    scenario_yaml,
    strategy_choices,
)

CACHE_ENTRIES = 32
DOWNLOAD_CACHE_ENTRIES = 4  # a few MB each (figures embedded)
SHOWN_RUN = "shown_run"  # session key: the cache key of the run whose results are shown
SHOWN_SEED = "shown_seed_figures"


# Every cache is keyed by the validated scenario (its YAML text) and the PSA design; ``_progress``
# (the progress bar) is not part of the key.
@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def cached_simulation(scenario_text: str, psa_draws: int, psa_patients: int, _progress=None) -> compute.Simulation:
    """The simulated comparison and PSA, kept as objects (read only) for the downloads."""
    return compute.simulate(compute.prepare_page_scenario(scenario_text), psa_draws, psa_patients, _progress)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def cached_run(scenario_text: str, psa_draws: int, psa_patients: int, _progress=None) -> compute.PageResult:
    """What the page shows: tables and figures."""
    return compute.page_result(cached_simulation(scenario_text, psa_draws, psa_patients, _progress))


@st.cache_data(max_entries=DOWNLOAD_CACHE_ENTRIES, show_spinner=False)
def cached_downloads(scenario_text: str, psa_draws: int, psa_patients: int) -> dict[str, bytes]:
    """The CLI's folders of a run (report.html, outputs.zip), built when a download is asked for."""
    return compute.download_files(cached_simulation(scenario_text, psa_draws, psa_patients))


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def cached_seed_figures(patients: int, _progress=None) -> compute.SeedFiguresResult:
    return compute.seed_figures(patients, SEED_FOLDER, _progress)


def _key(scenario: str, name: str) -> str:
    """Widget keys per scenario, so that each scenario keeps its own defaults and choices."""
    return f"{scenario}:{name}"


def _sidebar() -> PageSettings:
    sidebar = st.sidebar
    sidebar.header("Settings")
    scenario = sidebar.selectbox(
        "Scenario",
        BUNDLED_SCENARIOS,
        key="scenario",
        help="A bundled scenario of scenarios/ (its base; variants and sweeps are for `nelm-sim scenarios`).",
    )
    base = bundled_scenario(scenario)
    if base.description:
        sidebar.caption(base.description)
    strategies = sidebar.multiselect(
        "Strategies to compare",
        strategy_choices(scenario),
        default=default_strategies(scenario),
        key=_key(scenario, "strategies"),
        help=f"At least {MIN_STRATEGIES}. The first is the comparator of the hazard ratios.",
    )
    defaults = default_values(scenario)
    values = {}
    groups = list(dict.fromkeys(c.group for c in CONTROLS))
    for group in groups:
        box = sidebar.expander(group, expanded=group == groups[0])
        for control in (c for c in CONTROLS if c.group == group):
            values[control.key] = box.slider(
                f"{control.label} ({control.unit})",
                min_value=control.minimum,
                max_value=control.maximum,
                value=defaults[control.key],
                step=control.step,
                format=_format(control.step),
                key=_key(scenario, control.key),
                help=f"{control.help} Model default: {defaults[control.key]:g} "
                f"({control.parameter if control.target != 'wtp' else 'scenario economics'}).",
            )
    theatre = _theatre_capacity_control(sidebar, scenario)
    design_box = sidebar.expander("Run size and seed")
    design = {}
    for name, label in (
        ("patients", "Patients per strategy and replication"),
        ("replications", "Replications"),
        ("psa_draws", "PSA draws (cost-effectiveness)"),
        ("psa_patients", "Patients per strategy in each PSA draw"),
    ):
        low, high, step = RUN_DESIGN_RANGES[name]
        design[name] = int(
            design_box.number_input(
                label, min_value=low, max_value=high, value=getattr(RUN_DESIGN_DEFAULT, name), step=step, key=_key(scenario, name)
            )
        )
    seed = int(
        design_box.number_input(
            "Seed", min_value=SEED_RANGE[0], max_value=SEED_RANGE[1], value=base.seed, step=1, key=_key(scenario, "seed")
        )
    )
    if sidebar.button("Reset to the model's values", key="reset"):
        for name in [k for k in st.session_state if str(k).startswith(f"{scenario}:")]:
            del st.session_state[name]
        st.rerun()
    return PageSettings(scenario, tuple(strategies), tuple(values.items()), seed, RunDesign(**design), theatre)


def _format(step: float) -> str:
    """As many decimals as the step has (1 -> 32, 0.1 -> 1.3, 0.01 -> 0.34)."""
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"%.{decimals}f"


def _theatre_capacity_control(sidebar, scenario: str) -> float | None:
    """Shown only when the model supports resources (issue 7; see capacity.py)."""
    if not capacity.capacity_supported():
        return None
    default = capacity.theatre_capacity_default(bundled_scenario(scenario))
    if default is None:
        return None
    low, high, step = capacity.THEATRE_CAPACITY_RANGE
    return sidebar.slider(
        f"{capacity.THEATRE_CAPACITY_LABEL} ({capacity.THEATRE_CAPACITY_UNIT})",
        min_value=low,
        max_value=high,
        value=float(default),
        step=step,
        key=_key(scenario, "theatre_capacity"),
    )


def _progress_bar(text: str):
    """A progress bar and its callback. The callback updates the bar in the page's own context, taken
    here, outside the cached function: the updates are not recorded with the cached result (they are
    not replayed on a cache hit, when the computation does not run)."""
    bar = st.progress(0.0, text=text)
    page_context = contextvars.copy_context()

    def update(fraction: float, label: str) -> None:
        page_context.run(bar.progress, min(max(fraction, 0.0), 1.0), text=label)

    return bar, update


def _comparison_tab(settings: PageSettings) -> None:
    try:
        prepared = build_prepared(settings)
        run_key = (scenario_yaml(prepared.scenario), settings.design.psa_draws, settings.design.psa_patients)
    except UserInputError as exc:
        st.error(str(exc))
        prepared, run_key = None, None
    if st.button("Run", type="primary", key="run", disabled=run_key is None):
        st.session_state[SHOWN_RUN] = run_key
    shown = st.session_state.get(SHOWN_RUN)
    if shown is None:
        st.info("Choose a scenario, strategies and values in the sidebar, then press Run.")
        return
    bar, update = _progress_bar("Simulating...")
    try:
        result = cached_run(*shown, _progress=update)
    except UserInputError as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.empty()
    if shown != run_key:
        st.warning("The settings have changed since this run: press Run to update the results.")
    _results(result, shown)


def _results(result: compute.PageResult, run_key: tuple) -> None:
    st.success(
        f"{len(result.strategies)} strategies x {numbers.count(result.patients)} patients x {result.replications} replication(s), "
        f"and {result.psa_draws} PSA draws x {numbers.count(result.psa_patients)} patients: {numbers.seconds(result.seconds)} s "
        "(a repeated setting comes from the cache at once)."
    )
    st.caption(
        f"The same numbers from the command line: download scenario.yaml, then `nelm-sim compare scenario.yaml` and "
        f"`nelm-sim psa scenario.yaml --draws {result.psa_draws} --patients {result.psa_patients}`. "
        f"Resectable at entry in this cohort: {numbers.percent(result.resectable_share)}."
    )
    st.subheader("Survival")
    # One curve at a time, the page's full width: side by side, the numbers at risk were about 5 px tall.
    overall, progression = st.tabs(["Overall survival", "Progression-free survival, first line"])
    overall.image(result.figures["km_os"], caption="Overall survival (Kaplan-Meier, 95% bands, numbers at risk)")
    progression.image(result.figures["km_pfs"], caption="Progression-free survival of the first line (Kaplan-Meier, numbers at risk)")
    st.subheader("Results")
    st.caption("Means over replications with t-based 95% confidence intervals (Monte Carlo error, not parameter uncertainty).")
    st.table(result.headline)
    with st.expander("Key results as numbers (full precision, as in comparison.csv)"):
        st.caption(f"{result.comparator} is the reference of the hazard ratios: its own ratio (1 by definition) is not listed.")
        st.dataframe(without_reference_rows(result.key_metrics, result.comparator), hide_index=True)
    with st.expander("Every metric"):
        st.table(result.all_metrics)
    st.subheader("Symptom control")
    st.image(result.figures["symptoms"], caption="Control of hormonal symptoms among patients with functional tumours")
    with st.expander("Hazard ratios and state occupancy"):
        if "hazard_ratios" in result.figures:
            st.image(result.figures["hazard_ratios"])
        else:
            st.caption("One strategy only: no hazard ratios to show.")
        st.image(result.figures["occupancy"])
    st.subheader("Cost-effectiveness")
    st.caption(
        f"Probabilistic sensitivity analysis: {numbers.count(result.psa_draws)} parameter draws of "
        f"{numbers.count(result.psa_patients)} patients per strategy."
    )
    left, right = st.columns(2)
    left.image(result.figures["ce_plane"], caption="Cost-effectiveness plane (one point per PSA draw; dashed: willingness to pay)")
    right.image(result.figures["ceac"], caption="Cost-effectiveness acceptability curves")
    st.table(result.cost_effectiveness)
    with st.expander("PSA summary and incremental analysis at full precision (the rows of psa_summary.csv and icer.csv)"):
        st.dataframe(result.psa_summary, hide_index=True)
        st.dataframe(result.icer, hide_index=True)
    _resource_waits_panel(result)
    st.subheader("Downloads")
    st.caption(
        "The report and the zip hold the CLI's compare/ and psa/ folders of this run; they are built when asked for (a few seconds)."
    )

    def later(name: str):
        return lambda: cached_downloads(*run_key)[name]

    files = (
        ("report.html", later("report.html"), "text/html"),
        ("outputs.zip", later("outputs.zip"), "application/zip"),
        ("comparison.csv", result.comparison_csv, "text/csv"),
        (compute.PAGE_SCENARIO_FILE, result.scenario_yaml, "application/x-yaml"),
    )
    for column, (name, data, mime) in zip(st.columns(len(files)), files):
        column.download_button(name, data, file_name=name, mime=mime, key=f"download:{name}", on_click="ignore")


def _resource_waits_panel(result: compute.PageResult) -> None:
    """Shown only when the run has resource waits (capacity modelling, issue 7; see capacity.py)."""
    if result.resource_waits is None:
        return
    st.subheader("Resource waits")
    st.dataframe(numbers.format_columns(result.resource_waits, SUMMARY_KINDS, SUMMARY_HEADINGS), hide_index=True)


def _seed_tab() -> None:
    st.write(
        "The seed review's Figures 1, 2B, 3A and 3B (Mayo et al., J Am Coll Surg 2013) redrawn from the virtual cohorts and trials "
        "of scenarios/seed/, with the published points as open circles: what `nelm-sim reproduce --patients N` draws."
    )
    default, low, high, step = SEED_FIGURE_PATIENTS
    patients = int(
        st.number_input(
            "Patients per arm (the CLI default is each seed scenario's own, 5,000)",
            min_value=low,
            max_value=high,
            value=default,
            step=step,
            key="seed:patients",
        )
    )
    if st.button("Draw the seed figures", key="seed:run"):
        st.session_state[SHOWN_SEED] = patients
    shown = st.session_state.get(SHOWN_SEED)
    if shown is None:
        return
    bar, update = _progress_bar("Simulating the seed scenarios...")
    result = cached_seed_figures(shown, _progress=update)
    bar.empty()
    if shown != patients:
        st.warning("The number of patients has changed: press the button to redraw.")
    st.caption(f"{numbers.count(result.patients)} patients per arm, {numbers.seconds(result.seconds)} s.")
    for row in range(0, len(result.figures), 2):
        for column, (_, title, png) in zip(st.columns(2), result.figures[row : row + 2]):
            column.image(png, caption=title)
    # A leading ">" (e.g. "> 25% burden") would start a Markdown quote in the table's cells.
    st.table(result.targets.assign(population=result.targets["population"].str.replace(r"^>", r"\\>", regex=True)))


def main() -> None:
    st.set_page_config(page_title="nelm-sim: what if?", layout="wide")
    st.title("NELM strategies: what if?")
    st.caption("Patient-level simulation of neuroendocrine liver metastasis (nelm-sim). Change a value, press Run, compare.")
    settings = _sidebar()
    compare_tab, seed_tab = st.tabs(["Compare strategies", "Seed figures"])
    with compare_tab:
        _comparison_tab(settings)
    with seed_tab:
        _seed_tab()
