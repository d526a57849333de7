"""The what-if page (issue 10), driven headlessly with Streamlit's AppTest: a control changed on the
page gives the numbers the CLI gives for the same settings; bad settings end as one line; the seed
figures are those of `nelm-sim reproduce`; defaults come from the parameter library; runs are cached."""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile

import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from simulator.app import capacity, compute
from simulator.app import settings as page_settings
from simulator.app.settings import CONTROLS, PageSettings, RunDesign, build_prepared, default_settings
from simulator.cli import main
from simulator.config import load_scenario
from simulator.errors import UserInputError
from simulator.params.parameter_set import build_parameter_set
from simulator.reporting.numbers import percent

from .conftest import ROOT

APP = str(ROOT / "simulator" / "app" / "streamlit_app.py")
TIMEOUT = 300  # seconds AppTest waits for one script run (a run simulates; the suite shares two cores)
STRATEGIES = ["surgery-first", "systemic-first"]
SMALL = {"patients": 150, "replications": 2, "psa_draws": 3, "psa_patients": 30}
CHANGED = {"mix.functional": 80.0, "parameter.octreotide_lar.progression_hazard_ratio": 0.6, "economics.willingness_to_pay": 50_000.0}


def _cli(argv: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    assert status == 0, err.getvalue()
    return out.getvalue()


def _page(scenario: str = "baseline") -> AppTest:
    page = AppTest.from_file(APP, default_timeout=TIMEOUT)
    page.run()
    assert not page.exception
    return page


def _set_small_run(page: AppTest, scenario: str = "baseline") -> None:
    page.multiselect(key=f"{scenario}:strategies").set_value(STRATEGIES)
    for name, value in SMALL.items():
        page.number_input(key=f"{scenario}:{name}").set_value(value)


def _cli_scenario_file(tmp_path, changes: dict[str, float]) -> str:
    """The same settings written by hand as a scenario file, as a CLI user would write them."""
    data = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text(encoding="utf-8"))
    data["strategies"] = STRATEGIES
    data["cohort"]["size"] = SMALL["patients"]
    data["replications"] = SMALL["replications"]
    data["cohort"]["mix"] = {"functional": changes["mix.functional"] / 100}
    data["parameters"] = {"octreotide_lar.progression_hazard_ratio": changes["parameter.octreotide_lar.progression_hazard_ratio"]}
    data["economics"] = {"willingness_to_pay": [changes["economics.willingness_to_pay"]]}
    path = tmp_path / "by-hand.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


@pytest.fixture(autouse=True)
def _empty_cache():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def test_control_defaults_come_from_the_parameter_library():
    library = build_parameter_set()  # library + calibration, no scenario overrides
    defaults = page_settings.default_values("baseline")
    for control in CONTROLS:
        if control.target == "wtp":
            assert defaults[control.key] == load_scenario(ROOT / "scenarios" / "baseline.yaml").economics.willingness_to_pay[0]
            continue
        assert control.parameter in library, control.parameter
        assert defaults[control.key] == pytest.approx(library.value(control.parameter) * control.scale, rel=1e-12)
        assert control.minimum <= defaults[control.key] <= control.maximum, control.key


def test_unchanged_controls_leave_the_scenario_as_the_cli_reads_it():
    settings = default_settings("baseline")
    data = page_settings.scenario_data(settings)
    file = load_scenario(ROOT / "scenarios" / "baseline.yaml").model_dump(mode="json", exclude_none=True)
    assert data["parameters"] == file["parameters"] == {}
    assert data["economics"] == file["economics"]
    assert data["cohort"]["mix"] == file["cohort"]["mix"] == {}
    assert data["cohort"]["size"] == RunDesign().patients and data["seed"] == file["seed"]
    assert [s if isinstance(s, str) else s["name"] for s in data["strategies"]] == [s["name"] for s in file["strategies"]]


@pytest.mark.slow
def test_page_shows_the_numbers_of_the_cli_for_the_same_settings(tmp_path):
    page = _page()
    _set_small_run(page)
    for key, value in CHANGED.items():
        page.slider(key=f"baseline:{key}").set_value(value)
    page.run()
    assert not page.error, page.error[0].value
    page.button(key="run").click().run()
    assert not page.exception and not page.error

    headline = page.table[0].value
    numbers = page.dataframe[0].value
    psa_summary = page.dataframe[1].value
    assert list(headline["strategy"]) == STRATEGIES
    # The comparator's own hazard ratio is the reference, in every table of the page (issue 20 item 2).
    assert headline.iloc[0][f"HR vs {STRATEGIES[0]}"] == "reference"
    every = page.table[1].value.set_index("metric")
    assert every.loc["Hazard ratio of death vs comparator (Cox)", STRATEGIES[0]] == "reference"
    assert not ((numbers["strategy"] == STRATEGIES[0]) & (numbers["metric"] == "hr_os_vs_comparator")).any()

    scenario = _cli_scenario_file(tmp_path, CHANGED)
    printed = _cli(["compare", scenario, "--out", str(tmp_path / "compare"), "--quiet"])
    cli = pd.read_csv(tmp_path / "compare" / "comparison.csv")
    # The table the page shows is the table the CLI prints, cell for cell.
    for row in headline.itertuples(index=False):
        line = next(text for text in printed.splitlines() if text.split() and text.split()[0] == row[0])
        for cell in row[1:]:
            assert cell in line, (cell, line)
    # And the numbers behind it are the CLI's comparison.csv (written with 10 significant digits).
    merged = numbers.merge(cli, on=["strategy", "metric"], suffixes=("_page", "_cli"))
    assert len(merged) == len(numbers) >= 2 * 5
    for column in ("estimate", "lower_95", "upper_95"):
        pd.testing.assert_series_equal(merged[f"{column}_page"], merged[f"{column}_cli"], check_names=False, rtol=1e-9)
    # The control did reach the model: 80% functional instead of the library's 47%.
    functional = cli[(cli["metric"] == "functional_share")]["estimate"]
    assert (functional > 0.7).all()

    _cli(["psa", scenario, "--draws", str(SMALL["psa_draws"]), "--patients", str(SMALL["psa_patients"]), "--out", str(tmp_path / "psa")])
    cli_psa = pd.read_csv(tmp_path / "psa" / "psa_summary.csv")
    assert list(psa_summary["strategy"]) == list(cli_psa["strategy"]) == STRATEGIES
    for column in ("costs", "qalys", "life_years", "probability_cost_effective_50000"):  # at the page's willingness to pay
        pd.testing.assert_series_equal(psa_summary[column], cli_psa[column], check_names=False, check_dtype=False, rtol=1e-9)

    readable = page.table[2].value  # the same PSA, formatted
    assert list(readable["strategy"]) == STRATEGIES and "P(cost-effective) at 50,000" in readable.columns
    assert list(readable["P(cost-effective) at 50,000"]) == [percent(p) for p in cli_psa["probability_cost_effective_50000"]]

    # Two Kaplan-Meier figures side by side, symptom control, CE plane and CEAC are on the page.
    assert len(page.image) >= 5
    assert any("Overall survival" in caption for image in page.image for caption in image.captions)


@pytest.mark.slow
def test_a_setting_run_again_comes_from_the_cache(monkeypatch):
    calls = []
    original = compute.simulate

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(compute, "simulate", counting)
    page = _page()
    _set_small_run(page)
    page.button(key="run").click().run()
    first = page.table[0].value
    slider = page.slider(key="baseline:parameter.hepatectomy.perioperative_mortality")
    default = slider.value
    slider.set_value(10.0).run()
    assert page.get("warning"), "a changed setting is flagged until Run is pressed again"
    page.button(key="run").click().run()
    changed = page.table[0].value
    page.slider(key="baseline:parameter.hepatectomy.perioperative_mortality").set_value(default).run()
    page.button(key="run").click().run()
    assert len(calls) == 2  # the first setting again: from the cache, not simulated a third time
    pd.testing.assert_frame_equal(page.table[0].value, first)
    # 10% perioperative mortality instead of 1.3% shortens survival after surgery first.
    assert changed.iloc[0, 1] != first.iloc[0, 1]


def test_bad_settings_show_one_line_and_no_run():
    page = _page()
    page.slider(key="baseline:mix.primary_pancreas").set_value(80.0)
    page.slider(key="baseline:mix.primary_small_bowel").set_value(50.0)
    page.run()
    assert not page.exception
    assert len(page.error) == 1
    message = page.error[0].value
    assert "\n" not in message and "Traceback" not in message
    assert "cohort.mix" in message and "at most 1" in message
    assert page.button(key="run").disabled

    page.slider(key="baseline:mix.primary_small_bowel").set_value(10.0).run()
    assert not page.error and not page.button(key="run").disabled

    page.multiselect(key="baseline:strategies").set_value(["guideline"]).run()
    assert len(page.error) == 1 and "at least 2 strategies" in page.error[0].value


def test_settings_outside_the_controls_are_refused():
    good = default_settings("baseline")
    values = dict(good.values)
    with pytest.raises(UserInputError, match="Functional"):
        build_prepared(PageSettings("baseline", good.strategies, tuple({**values, "mix.functional": 150.0}.items()), good.seed))
    with pytest.raises(UserInputError, match="strategies"):
        build_prepared(PageSettings("baseline", ("surgery-first", "rm -rf /"), good.values, good.seed))
    with pytest.raises(UserInputError, match="scenario"):
        build_prepared(PageSettings("../../etc/passwd", good.strategies, good.values, good.seed))
    with pytest.raises(UserInputError, match="patients"):
        build_prepared(PageSettings("baseline", good.strategies, good.values, good.seed, RunDesign(patients=10**7)))
    with pytest.raises(UserInputError, match="mortality"):
        build_prepared(
            PageSettings(
                "baseline", good.strategies, tuple({**values, "parameter.hepatectomy.perioperative_mortality": -1.0}.items()), good.seed
            )
        )


def test_the_scenario_is_chosen_from_a_fixed_list_only():
    page = _page()
    assert list(page.selectbox(key="scenario").options) == list(page_settings.BUNDLED_SCENARIOS)
    assert not page.get("text_input") and not page.get("text_area") and not page.get("file_uploader")
    page.selectbox(key="scenario").set_value("evidence-variants").run()
    assert not page.exception
    assert page.multiselect(key="evidence-variants:strategies").value == ["surgery-first", "systemic-first", "iat-first"]


def test_theatre_capacity_hooks_follow_the_capacity_section():
    assert capacity.capacity_supported()
    page = _page()  # the bundled page scenarios configure no theatre: no control
    assert not [s for s in page.slider if capacity.THEATRE_CAPACITY_LABEL in s.label]
    assert capacity.resource_waits(object()) is None
    from simulator.config import load_scenario

    from .conftest import ROOT

    constrained = load_scenario(ROOT / "scenarios" / "capacity-constrained.yaml")
    assert capacity.theatre_capacity_default(constrained) == 1.0
    data = constrained.model_dump()
    capacity.apply_theatre_capacity(data, 3.0)
    assert data["capacity"]["resources"]["theatre"]["capacity"] == 3


@pytest.mark.slow
def test_downloads_are_the_cli_folders(tmp_path):
    settings = default_settings("baseline")
    settings = PageSettings("baseline", tuple(STRATEGIES), settings.values, settings.seed, RunDesign(**SMALL))
    simulation = compute.simulate(build_prepared(settings), SMALL["psa_draws"], SMALL["psa_patients"])
    shown = compute.page_result(simulation)
    files = compute.download_files(simulation)
    names = zipfile.ZipFile(io.BytesIO(files["outputs.zip"])).namelist()
    for expected in (
        "scenario.yaml",
        "compare/report.html",
        "compare/comparison.csv",
        "compare/figures/km_overall_survival.png",
        "psa/psa.csv",
        "psa/ceac.csv",
        "psa/figures/ce_plane.png",
    ):
        assert expected in names
    path = tmp_path / "scenario.yaml"
    path.write_bytes(files["scenario.yaml"])
    assert files["scenario.yaml"] == shown.scenario_yaml.encode("utf-8")
    _cli(["compare", str(path), "--out", str(tmp_path / "cli"), "--quiet"])
    assert (tmp_path / "cli" / "comparison.csv").read_bytes() == files["comparison.csv"] == shown.comparison_csv
    report = files["report.html"].decode("utf-8")
    assert all(name in report for name in STRATEGIES) and "data:image/png;base64," in report
    assert hashlib.sha256(files["scenario.yaml"]).hexdigest() in report
    _cli(["psa", str(path), "--draws", str(SMALL["psa_draws"]), "--patients", str(SMALL["psa_patients"]), "--out", str(tmp_path / "psa")])
    archive = zipfile.ZipFile(io.BytesIO(files["outputs.zip"]))
    for name in ("psa_summary.csv", "psa.csv", "ceac.csv", "icer.csv"):
        assert archive.read(f"psa/{name}") == (tmp_path / "psa" / name).read_bytes(), name


@pytest.mark.slow
def test_seed_figures_are_those_of_reproduce(tmp_path):
    page = _page()
    page.number_input(key="seed:patients").set_value(200)
    page.button(key="seed:run").click().run()
    assert not page.exception
    assert len(page.image) == 4
    captions = [c for image in page.image for c in image.captions]
    assert any(c.startswith("Fig 1") for c in captions) and any(c.startswith("Fig 3B") for c in captions)
    shown = page.table[0].value.set_index("target")
    _cli(["reproduce", "--patients", "200", "--out", str(tmp_path / "seed")])
    cli = pd.read_csv(tmp_path / "seed" / "calibration.csv").set_index("target").loc[shown.index]
    pd.testing.assert_series_equal(shown["simulated"], cli["simulated"], rtol=1e-5)
    assert list(shown["pass"]) == list(cli["pass"])
