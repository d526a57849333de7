"""The what-if page (issues 10 and 20), driven headlessly with Streamlit's AppTest: a control changed on
the page gives the numbers the CLI gives for the same settings; bad settings end as one line in the page's
terms; an uploaded file is validated as `nelm-sim validate` does; the capacity scenario shows the
planner's view with the CLI's numbers; a pinned result stays beside the new one; the seed figures are
those of `nelm-sim reproduce`; defaults come from the parameter library; runs are cached."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import zipfile

import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from simulator.app import capacity, compute
from simulator.app import page as page_module
from simulator.app import settings as page_settings
from simulator.app.settings import CONTROLS, PageSettings, RunDesign, build_prepared, default_settings
from simulator.cli import main
from simulator.commands.output import read_csv
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
    cli = read_csv(tmp_path / "compare" / "comparison.csv")
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
    cli_psa = read_csv(tmp_path / "psa" / "psa_summary.csv")
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
def test_a_setting_run_again_comes_from_the_cache_and_a_pinned_result_stays_beside_the_new_one(monkeypatch):
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
    page.button(key="pin").click().run()
    assert any("This result is pinned" in c.value for c in page.caption)
    slider = page.slider(key="baseline:parameter.hepatectomy.perioperative_mortality")
    default = slider.value
    slider.set_value(10.0).run()
    assert page.get("warning"), "a changed setting is flagged until Run is pressed again"
    page.button(key="run").click().run()
    assert not page.exception and not page.error
    # Before and after, side by side: the pinned table, then the current one (then the current results below).
    assert "Before and after" in [s.value for s in page.subheader]
    changed_fields = next(c.value for c in page.caption if c.value.startswith("What changed"))
    assert "parameters.hepatectomy.perioperative_mortality: (not set) -> 0.1" in changed_fields
    pd.testing.assert_frame_equal(page.table[0].value, first)
    changed = page.table[1].value
    pd.testing.assert_frame_equal(page.table[2].value, changed)
    captions = [c for image in page.image for c in image.captions]
    assert any(c.startswith("Before (pinned)") for c in captions) and any(c.startswith("After (current)") for c in captions)

    page.slider(key="baseline:parameter.hepatectomy.perioperative_mortality").set_value(default).run()
    page.button(key="run").click().run()
    assert len(calls) == 2  # the first setting again: from the cache, not simulated a third time
    pd.testing.assert_frame_equal(page.table[0].value, first)
    assert "Before and after" not in [s.value for s in page.subheader]  # the pinned result is the one shown
    # 10% perioperative mortality instead of 1.3% shortens survival after surgery first.
    assert changed.iloc[0, 1] != first.iloc[0, 1]
    page.button(key="unpin").click().run()
    assert not any("This result is pinned" in c.value for c in page.caption)


def test_bad_settings_show_one_line_in_the_pages_terms_and_no_run():
    page = _page()
    page.slider(key="baseline:mix.primary_pancreas").set_value(80.0)
    page.slider(key="baseline:mix.primary_small_bowel").set_value(50.0)
    page.run()
    assert not page.exception
    assert len(page.error) == 1
    message = page.error[0].value
    assert "\n" not in message and "Traceback" not in message
    # Percentages as the sliders show them, and the sliders' labels (issue 19 item 13), not "shares sum to 1.300 > 1".
    assert message.startswith("Pancreatic primary + Small-bowel primary: at most 100% of patients together, got 80% + 50% = 130%")
    assert "cohort.mix" not in message and "1.3" not in message
    assert page.button(key="run").disabled

    page.slider(key="baseline:mix.primary_small_bowel").set_value(10.0).run()
    assert not page.error and not page.button(key="run").disabled

    page.multiselect(key="baseline:strategies").set_value([]).run()
    assert len(page.error) == 1 and "choose at least 1" in page.error[0].value

    # More than a page run may simulate (issue 19 item 13: 500 draws x 2,000 patients x 6 strategies ran for an hour).
    page.multiselect(key="baseline:strategies").set_value(page_settings.default_strategies("baseline")).run()
    page.number_input(key="baseline:psa_draws").set_value(500)
    page.number_input(key="baseline:psa_patients").set_value(2_000).run()
    assert len(page.error) == 1 and page.button(key="run").disabled
    message = page.error[0].value
    assert message.startswith(f"Run size: at most {page_settings.PAGE_MAX_LIFETIMES:,} simulated lifetimes in one run of the page")
    assert "500 PSA draws x 2,000 patients x 6 strategies = 6,000,000" in message
    assert "--summary" not in message and "cohort.size" not in message


@pytest.mark.parametrize("group", page_settings.SHARE_GROUPS)
def test_the_pages_share_limit_is_the_models(group):
    """The page refuses a pair of shares above 100% in its own words exactly where the model (prepare, as
    the CLI runs it) refuses them: both accept 100% together and both refuse 101%."""
    good = default_settings("baseline")
    first, second = group
    for total, refused in ((100.0, False), (101.0, True)):
        values = {**dict(good.values), first: 60.0, second: total - 60.0}
        settings = PageSettings("baseline", good.strategies, tuple(values.items()), good.seed)
        data = page_settings.scenario_data(PageSettings("baseline", good.strategies, good.values, good.seed))
        mix = data["cohort"].setdefault("mix", {})
        for key in group:
            mix[page_settings.CONTROLS_BY_KEY[key].name] = values[key] / 100
        try:
            page_settings.prepare(page_settings.Scenario.model_validate(data), "by-hand.yaml")
            model_refused = False
        except UserInputError:
            model_refused = True
        assert model_refused == refused, (group, total)
        if refused:
            with pytest.raises(UserInputError, match=r"at most 100% of patients together, got 60% \+ 41% = 101%"):
                build_prepared(settings)
        else:
            build_prepared(settings)


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


def test_the_scenario_is_a_bundled_file_by_name_or_an_uploaded_file():
    page = _page()
    assert list(page.selectbox(key="scenario").options) == list(page_settings.BUNDLED_SCENARIOS)
    assert "capacity-constrained" in page.selectbox(key="scenario").options  # the planners' scenario (issue 20 item 7)
    assert not page.get("text_input") and not page.get("text_area") and not page.get("file_uploader")
    page.selectbox(key="scenario").set_value("evidence-variants").run()
    assert not page.exception
    assert page.multiselect(key="evidence-variants:strategies").value == ["surgery-first", "systemic-first", "iat-first"]
    page.radio(key="source").set_value(page_module.UPLOAD_SOURCE).run()
    assert not page.exception and not page.get("selectbox")
    assert any("Upload a scenario file" in info.value for info in page.info)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml")))
def test_every_bundled_scenario_file_is_offered_and_runs_on_the_page(name):
    """Issue 20 item 7: every bundled scenario (a new file in scenarios/ included), not a hand-kept list
    that had left out structural-variants, eur-prrt and vignette-utilities."""
    assert name in page_settings.BUNDLED_SCENARIOS
    small = dataclasses.replace(default_settings(name), design=RunDesign(patients=50, replications=1, psa_draws=5, psa_patients=20))
    result = compute.run_page(build_prepared(small), small.design.psa_draws, small.design.psa_patients)
    assert "km_os" in result.figures and len(result.headline) == len(small.strategies)


def _upload(page: AppTest, name: str, content: bytes) -> AppTest:
    page.radio(key="source").set_value(page_module.UPLOAD_SOURCE).run()
    page.file_uploader(key="upload").set_value((name, content, "application/x-yaml")).run()
    assert not page.exception
    return page


def _cli_validate_error(tmp_path, content: bytes) -> str:
    path = tmp_path / "same.yaml"
    path.write_bytes(content)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["validate", str(path)]) == 2
    return err.getvalue().strip().removeprefix("nelm-sim: error: ").removeprefix(str(path))


BAD_FILES = (
    b"name: x\nseed: 1\n",  # a required field missing
    b"name: t\nseed: 1\ncohort: {size: 30}\nhorizon_months: 60\nstrategies: [surgery-first]\nparameters: {hepatectomy.mortality: 0.1}\n",
    b"name: [\n",  # not YAML
    b"!!python/object/apply:os.system ['true']\n",  # a tag: refused, never constructed
    b"\xff\xfe\x00",  # not UTF-8
)


def test_a_bad_uploaded_file_shows_the_clis_one_line_naming_the_file(tmp_path):
    page = _page()
    for content in BAD_FILES:
        _upload(page, "../my scenario.yaml", content)
        assert len(page.error) == 1 and not page.exception
        message = page.error[0].value
        assert "\n" not in message and "Traceback" not in message
        assert message.startswith("my_scenario.yaml: ")  # the uploaded file's own name, no folder, printable
        # The same message as `nelm-sim validate` of the same bytes, the file's name apart.
        assert message.removeprefix("my_scenario.yaml") == _cli_validate_error(tmp_path, content), content
        assert not page.get("multiselect")  # nothing to run


def test_an_uploaded_file_over_the_size_limit_is_refused_in_one_line():
    page = _upload(_page(), "big.yaml", b"#" * (page_settings.MAX_UPLOAD_BYTES + 1))
    assert [e.value for e in page.error] == [
        f"big.yaml: expected a file of at most {page_settings.MAX_UPLOAD_BYTES:,} bytes, got {page_settings.MAX_UPLOAD_BYTES + 1:,}"
    ]


def test_an_uploaded_file_sets_the_pages_defaults():
    data = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text(encoding="utf-8"))
    data["name"] = "uploaded"
    data["strategies"] = ["systemic-first", "surgery-first"]
    # 30% is above the slider's own maximum (20%): the file's value widens the range, it is not clipped.
    data["parameters"] = {"hepatectomy.perioperative_mortality": 0.3}
    data["cohort"]["mix"] = {"functional": 0.8}
    data["seed"] = 2**40  # above the seed input's own maximum, within the CLI's
    page = _upload(_page(), "uploaded.yaml", yaml.safe_dump(data).encode("utf-8"))
    assert not page.error
    assert any(s.value.startswith("uploaded.yaml: valid") for s in page.success)
    key = page_settings.register_upload("uploaded.yaml", yaml.safe_dump(data).encode("utf-8"))
    assert page.multiselect(key=f"{key}:strategies").value == ["systemic-first", "surgery-first"]
    mortality = page.slider(key=f"{key}:parameter.hepatectomy.perioperative_mortality")
    assert mortality.value == 30.0 and mortality.max == 30.0
    assert page.slider(key=f"{key}:mix.functional").value == 80.0
    assert page.number_input(key=f"{key}:seed").value == 2**40
    assert not page.button(key="run").disabled


def test_theatre_capacity_control_follows_the_capacity_section():
    page = _page()  # baseline configures no theatre: no control
    assert not [s for s in page.slider if capacity.THEATRE_CAPACITY_LABEL in s.label]
    page.selectbox(key="scenario").set_value("capacity-constrained").run()
    assert not page.exception and not page.error
    theatre = page.slider(key="capacity-constrained:theatre_capacity")
    assert theatre.value == 1.0  # scenarios/capacity-constrained.yaml
    assert any("Open population" in caption.value for caption in page.caption)  # the patients input is not used there
    constrained = load_scenario(ROOT / "scenarios" / "capacity-constrained.yaml")
    assert capacity.theatre_capacity_default(constrained) == 1.0
    data = constrained.model_dump()
    capacity.apply_theatre_capacity(data, 3.0)
    assert data["capacity"]["resources"]["theatre"]["capacity"] == 3


@pytest.mark.slow
def test_the_capacity_scenario_shows_the_planners_view_with_the_clis_numbers(tmp_path):
    page = _page()
    page.selectbox(key="scenario").set_value("capacity-constrained").run()
    page.number_input(key="capacity-constrained:replications").set_value(2).run()
    page.button(key="run").click().run()
    assert not page.exception and not page.error
    assert "Capacity and waiting (for planners)" in [s.value for s in page.subheader]
    assert "Cost-effectiveness" in [s.value for s in page.subheader]  # one strategy: said so, no PSA
    summary = next(t.value for t in page.table if "utilisation of open time" in t.value.columns)
    years = next(t.value for t in page.table if "year of the window" in t.value.columns)
    # One theatre session a week cannot keep up: the queue keeps growing and the page says so.
    assert any("theatre queue of surgery-first is still growing" in w.value for w in page.warning)
    shares = [float(v.rstrip("%")) for v in list(summary["utilisation of open time"]) + list(years["utilisation of open time"])]
    assert all(0 <= v <= 100 for v in shares)
    assert sorted(set(years["year of the window"])) == ["1", "2", "3", "4", "5"]  # arrivals.years: 5
    captions = [c for image in page.image for c in image.captions]
    assert any(c.startswith("Mean number of patients queued") for c in captions)

    # The same scenario from the command line: the page's table is report.html's, from resources.csv.
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(page.session_state[page_module.SHOWN_RUN][0], encoding="utf-8")
    _cli(["compare", str(scenario), "--out", str(tmp_path / "cli"), "--quiet"])
    from simulator.reporting.capacity_report import resource_table

    cli = resource_table(read_csv(tmp_path / "cli" / "resources.csv"))
    pd.testing.assert_frame_equal(summary.reset_index(drop=True), cli.astype(str).reset_index(drop=True), check_dtype=False)


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
    cli = read_csv(tmp_path / "seed" / "calibration.csv").set_index("target").loc[shown.index]
    pd.testing.assert_series_equal(shown["simulated"], cli["simulated"], rtol=1e-5)
    assert list(shown["pass"]) == list(cli["pass"])
