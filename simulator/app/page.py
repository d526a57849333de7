"""The what-if page (Streamlit): controls in the sidebar, results in two tabs.

Layout only: the settings and their validation are in ``settings``, the computations in ``compute``,
the planner's view in ``capacity``. Every input is a bounded widget or an uploaded scenario file (read
by the command line's safe loader and validated as `nelm-sim validate` does; no free text, no path), so
nothing typed on the page can open a file or run code.
"""

from __future__ import annotations

import contextvars
import math

import streamlit as st
import yaml

from ..errors import UserInputError
from ..reporting import numbers
from ..reporting.tables import without_reference_rows
from . import capacity, compute
from .settings import (
    BUNDLED_SCENARIOS,
    CONTROLS,
    MAX_UPLOAD_BYTES,
    MIN_STRATEGIES,
    RUN_DESIGN_DEFAULT,
    RUN_DESIGN_RANGES,
    SEED_FIGURE_PATIENTS,
    SEED_FOLDER,
    PageSettings,
    RunDesign,
    base_scenario,
    build_prepared,
    control_range,
    default_strategies,
    default_values,
    has_arrivals,
    open_population_patients,
    register_upload,
    scenario_label,
    scenario_yaml,
    seed_range,
    strategy_choices,
)

CACHE_ENTRIES = 32
DOWNLOAD_CACHE_ENTRIES = 4  # a few MB each (figures embedded)
SHOWN_RUN = "shown_run"  # session key: the cache key of the run whose results are shown
SHOWN_SEED = "shown_seed_figures"
PINNED = "pinned_run"  # session key: (cache key, PageResult) of the result pinned as "before"
BUNDLED_SOURCE = "A bundled scenario"
UPLOAD_SOURCE = "Upload a scenario file"


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


def _chosen_scenario(sidebar) -> str | None:
    """The scenario's name (bundled) or key (uploaded); None while no valid file is uploaded."""
    source = sidebar.radio("Scenario from", (BUNDLED_SOURCE, UPLOAD_SOURCE), key="source", horizontal=True)
    if source == BUNDLED_SOURCE:
        return sidebar.selectbox(
            "Scenario",
            BUNDLED_SCENARIOS,
            key="scenario",
            help="A bundled scenario of scenarios/ (its base; variants and sweeps are for `nelm-sim scenarios`).",
        )
    upload = sidebar.file_uploader(
        f"Scenario file (YAML, at most {numbers.count(MAX_UPLOAD_BYTES)} bytes)",
        type=["yaml", "yml"],
        key="upload",
        help="Checked as `nelm-sim validate` checks a file; a bad file gives the same one-line message.",
    )
    if upload is None:
        return None
    try:
        key = register_upload(upload.name, upload.getvalue())
    except UserInputError as exc:
        sidebar.error(str(exc))
        return None
    sidebar.success(f"{scenario_label(key)}: valid (checked as `nelm-sim validate` checks it)")
    return key


def _sidebar() -> PageSettings | None:
    sidebar = st.sidebar
    sidebar.header("Settings")
    scenario = _chosen_scenario(sidebar)
    if scenario is None:
        return None
    base = base_scenario(scenario)
    if base.description:
        sidebar.caption(base.description)
    if base.variants or base.sweep:
        sidebar.caption("The page runs the scenario's base; its variants and sweep are for `nelm-sim scenarios`.")
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
            low, high = control_range(scenario, control)
            values[control.key] = box.slider(
                f"{control.label} ({control.unit})",
                min_value=low,
                max_value=high,
                value=defaults[control.key],
                step=control.step,
                format=_format(control.step),
                key=_key(scenario, control.key),
                help=f"{control.help} Model default: {defaults[control.key]:g} "
                f"({control.parameter if control.target != 'wtp' else 'scenario economics'}).",
            )
    theatre = _theatre_capacity_control(sidebar, scenario)
    design_box = sidebar.expander("Run size and seed")
    if has_arrivals(scenario):
        design_box.caption(
            f"Open population (capacity.arrivals): the patients are those who arrive, up to about "
            f"{numbers.count(open_population_patients(scenario))} per replication and strategy; the number of patients below is not used."
        )
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
    low, high = seed_range(scenario)
    seed = int(design_box.number_input("Seed", min_value=low, max_value=high, value=base.seed, step=1, key=_key(scenario, "seed")))
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
    """Shown for a scenario that configures a theatre (capacity.resources.theatre)."""
    default = capacity.theatre_capacity_default(base_scenario(scenario))
    if default is None:
        return None
    low, high, step = capacity.THEATRE_CAPACITY_RANGE
    return sidebar.slider(
        f"{capacity.THEATRE_CAPACITY_LABEL} ({capacity.THEATRE_CAPACITY_UNIT})",
        min_value=min(low, default),
        max_value=max(high, default),
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


def _comparison_tab(settings: PageSettings | None) -> None:
    if settings is None:
        st.info("Upload a scenario file in the sidebar (YAML, as `nelm-sim validate` reads it), or choose a bundled scenario.")
        return
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
    _before_after(result, shown)
    _results(result, shown)


def _run_words(result: compute.PageResult) -> str:
    psa = (
        f", and {result.psa_draws} PSA draws x {numbers.count(result.psa_patients)} patients"
        if result.psa_draws
        else " (one strategy: no cost-effectiveness)"
    )
    strategies = f"{len(result.strategies)} {'strategy' if len(result.strategies) == 1 else 'strategies'}"
    patients = f"{'about ' if result.open_population else ''}{numbers.count(result.patients)} {'arriving ' if result.open_population else ''}patients"
    return f"{strategies} x {patients} x {result.replications} replication(s){psa}"


def _flat(data: object, prefix: str = "") -> dict[str, object]:
    """A scenario mapping as dotted field paths (cohort.mix.functional: 0.8); a list of named entries
    (strategies) as its names."""
    if isinstance(data, dict):
        out: dict[str, object] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    if isinstance(data, list) and all(isinstance(item, (str, dict)) for item in data):
        data = ", ".join(item if isinstance(item, str) else str(item.get("name", item)) for item in data)
    return {prefix.rstrip("."): data}


def _changes(before: str, after: str) -> list[str]:
    """The scenario fields that differ between two runs' scenarios (as `scenario.yaml` holds them)."""
    old, new = _flat(yaml.safe_load(before)), _flat(yaml.safe_load(after))
    unset = "(not set)"
    return [
        f"{name}: {old.get(name, unset)} -> {new.get(name, unset)}"
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]


def _before_after(result: compute.PageResult, run_key: tuple) -> None:
    """Pin a result, change the settings, run again: the pinned result and the current one side by side."""
    pinned = st.session_state.get(PINNED)
    pin, unpin, _ = st.columns([1, 1, 4])
    if pin.button("Pin this result", key="pin", help="Keep this result as 'before': change the settings, run, and compare."):
        st.session_state[PINNED] = pinned = (run_key, result)
    if pinned is not None and unpin.button("Unpin", key="unpin"):
        del st.session_state[PINNED]
        pinned = None
    if pinned is None:
        return
    pinned_key, before = pinned
    if pinned_key == run_key:
        st.caption("This result is pinned: change the settings and press Run to see it beside the new one.")
        return
    st.subheader("Before and after")
    changes = _changes(before.scenario_yaml, result.scenario_yaml)
    st.caption("What changed: " + ("; ".join(changes) if changes else "nothing in the scenario (the same settings)") + ".")
    left, right = st.columns(2)
    for column, shown, title in ((left, before, "Before (pinned)"), (right, result, "After (current)")):
        column.markdown(f"**{title}**: {_run_words(shown)}")
        column.image(shown.figures["km_os_narrow"], caption=f"{title}: overall survival (Kaplan-Meier, numbers at risk)")
        column.table(shown.headline)


def _results(result: compute.PageResult, run_key: tuple) -> None:
    st.success(f"{_run_words(result)}: {numbers.seconds(result.seconds)} s (a repeated setting comes from the cache at once).")
    psa_command = (
        f" and `nelm-sim psa scenario.yaml --draws {result.psa_draws} --patients {result.psa_patients}`" if result.psa_draws else ""
    )
    st.caption(
        f"The same numbers from the command line: download scenario.yaml, then `nelm-sim compare scenario.yaml`{psa_command}. "
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
    _planner_section(result)
    st.subheader("Symptom control")
    st.image(result.figures["symptoms"], caption="Control of hormonal symptoms among patients with functional tumours")
    with st.expander("Hazard ratios and state occupancy"):
        if "hazard_ratios" in result.figures:
            st.image(result.figures["hazard_ratios"])
        else:
            st.caption("One strategy only: no hazard ratios to show.")
        st.image(result.figures["occupancy"])
    _cost_effectiveness(result)
    _downloads(result, run_key)


def _cost_effectiveness(result: compute.PageResult) -> None:
    st.subheader("Cost-effectiveness")
    if result.cost_effectiveness is None:
        st.caption("One strategy only: no costs or QALYs to compare it with (no PSA run). Choose a second strategy to compare.")
        return
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


def _downloads(result: compute.PageResult, run_key: tuple) -> None:
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


def _planner_section(result: compute.PageResult) -> None:
    """Shown when the run has hospital resources (a scenario with a capacity section)."""
    view = result.capacity
    if view is None:
        return
    st.subheader("Capacity and waiting (for planners)")
    st.caption(
        "Shared hospital resources with queues, over the statistics window (after the warm-up), means over replications. "
        "Utilisation is the share of the open (scheduled) time's capacity in use, at most 100%; work that runs on after a "
        "session closes is counted apart as overrun hours."
    )
    for warning in view.warnings:
        st.warning(warning)
    st.table(view.summary)
    if view.unused:
        st.caption(f"Not used by any strategy in this run, so left out of the figures: {', '.join(view.unused)}.")
    if not view.years.empty:
        st.markdown("**Year by year** (years of the statistics window; waits of the requests made in that year)")
        st.table(view.years)
    st.markdown("**Patients whose course changed because of waiting** (all replications)")
    st.table(view.waiting)
    for caption, png in view.figures:
        st.image(png, caption=caption)


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
