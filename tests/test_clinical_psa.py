"""PSA over clinical parameters (issue 17 items 2, 3, 5): every parameter drawn or fixed with a reason,
Dirichlet shares, the posterior's joint draws, scenario overrides of a PSA distribution, the Monte
Carlo error of a PSA and whether it resolves the decision."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pandas as pd
import pytest

from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.commands.psa import unresolved_warnings
from simulator.economics import sampling
from simulator.economics.sampling import POSTERIOR_ROW, draw_parameters, drawn_columns, dsa_bounds, load_posterior, psa_status
from simulator.experiments.psa import decision_table, standard_error
from simulator.params.parameter_set import build_parameter_set
from simulator.params.schema import ParameterEntry

from .conftest import ROOT, tiny_scenario

Z = 4.0  # tolerance of statistical checks, in standard errors
CLINICAL_EXAMPLES = (  # one of each kind the issue names: drug effect, natural history, share, fitted curve
    "lanreotide.progression_hazard_ratio",
    "temozolomide.progression_hazard_ratio",
    "disease.hr_grade_g3",
    "cohort.primary_pancreas",
    "ablation.time_to_progression.median",
    "hepatectomy.perioperative_mortality",
)


@pytest.fixture
def no_posterior(monkeypatch, tmp_path):
    """The library as if `calibrate --posterior` had not saved a sample."""
    monkeypatch.setattr(sampling, "posterior_folder", lambda: tmp_path / "none")
    load_posterior.cache_clear()
    yield
    load_posterior.cache_clear()


@pytest.fixture
def toy_posterior(monkeypatch, tmp_path):
    """A posterior of two calibrated parameters whose draws are perfectly correlated (row k: k, 10 k)."""
    folder = tmp_path / "posterior"
    folder.mkdir()
    rows = ["draw,disease.death_hazard_ratio_per_progression,natural_history.time_to_progression.median"]
    rows += [f"{k},{1 + k / 100:.4f},{6 + k / 10:.4f}" for k in range(1, 201)]
    (folder / "posterior.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "posterior.yaml").write_text("method: test\nseed: 1\ndate: today\n", encoding="utf-8")
    monkeypatch.setattr(sampling, "posterior_folder", lambda: folder)
    load_posterior.cache_clear()
    yield load_posterior()
    load_posterior.cache_clear()


def test_every_parameter_has_a_psa_distribution_or_a_reason_to_be_fixed(capsys):
    params = build_parameter_set()
    posterior = load_posterior()
    statuses = {name: psa_status(params, name, posterior) for name in params.names()}
    unexplained = [name for name, status in statuses.items() if status == "fixed: no reason given"]
    assert unexplained == []
    for name, status in statuses.items():
        reason = status.removeprefix("fixed: ") if status.startswith("fixed: ") else status.split("; ", 1)[-1]
        assert len(reason) > 15, name
    drawn = [name for name, status in statuses.items() if not status.startswith("fixed: ")]
    clinical = [name for name in drawn if not name.startswith(("cost.", "utility.", "economics."))]
    assert len(clinical) > 80, len(clinical)  # the PSA used to draw costs and utilities only
    # `nelm-sim params` shows the same status for every parameter.
    assert main(["params", "--csv"]) == 0
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert {name: rows[name]["psa"] for name in statuses} == statuses


def test_drug_effects_are_lognormal_on_their_published_confidence_intervals():
    params = build_parameter_set()
    for name, (low, high) in {
        "lanreotide.progression_hazard_ratio": (0.30, 0.73),  # CLARINET
        "everolimus.growth_multiplier": (0.27, 0.45),  # RADIANT-3
        "sunitinib.growth_multiplier": (0.26, 0.66),  # Raymond 2011
    }.items():
        spec = params.entries[name].psa
        assert spec.distribution == "lognormal"
        assert spec.se == pytest.approx(math.log(high / low) / (2 * 1.959964), abs=1e-4), name


def test_dirichlet_shares_are_drawn_jointly_around_their_values_and_never_exceed_one(no_posterior):
    params = build_parameter_set()
    rows = pd.DataFrame([draw_parameters(params, 11, d)[1] for d in range(1, 401)])
    pancreas, small_bowel = rows["cohort.primary_pancreas"], rows["cohort.primary_small_bowel"]
    assert ((pancreas + small_bowel) < 1).all() and (pancreas > 0).all()
    for name, share, count in (("cohort.primary_pancreas", 0.32, 753), ("cohort.primary_small_bowel", 0.27, 753)):
        sd = math.sqrt(share * (1 - share) / (count + 1))  # a Dirichlet marginal is Beta(c p, c (1 - p))
        values = rows[name]
        assert abs(values.mean() - share) < Z * sd / math.sqrt(len(values)), name
        assert abs(values.std() / sd - 1) < Z / math.sqrt(2 * len(values)), name
    # The IAT session shares have no rest: every draw still sums to one.
    sessions = sum(rows[f"iat.sessions_{k}"] for k in range(1, 5))
    assert np.allclose(sessions, 1.0)
    # Negative correlation between members of one group, as a Dirichlet has.
    assert np.corrcoef(pancreas, small_bowel)[0, 1] < 0


def test_calibrated_parameters_are_drawn_jointly_from_the_posterior(toy_posterior):
    params = build_parameter_set()
    for draw in range(1, 40):
        drawn_set, drawn = draw_parameters(params, 5, draw)
        row = drawn[POSTERIOR_ROW]
        # Both values come from the same posterior row: the correlation of the sample is kept.
        assert drawn["disease.death_hazard_ratio_per_progression"] == pytest.approx(1 + row / 100)
        assert drawn["natural_history.time_to_progression.median"] == pytest.approx(6 + row / 10)
        assert drawn_set.value("disease.death_hazard_ratio_per_progression") == pytest.approx(1 + row / 100)
        assert drawn_set.dist("natural_history.time_to_progression").median == pytest.approx(6 + row / 10)
    assert set(drawn) == set(drawn_columns(params, toy_posterior)) | {"psa_redraws"}
    assert psa_status(params, "disease.death_hazard_ratio_per_progression", toy_posterior).startswith("joint posterior sample (200 draws")
    # Without a posterior, a calibrated parameter is fixed with a reason that says how to get one.
    load_posterior.cache_clear()


def test_posterior_rows_are_spread_over_the_sample(toy_posterior):
    params = build_parameter_set()
    rows = np.array([draw_parameters(params, 5, d)[1][POSTERIOR_ROW] for d in range(1, 401)])
    assert rows.min() >= 1 and rows.max() <= 200
    # Uniform over 1..200: mean 100.5, SD 57.7.
    assert abs(rows.mean() - 100.5) < Z * 57.7 / math.sqrt(len(rows))


def test_a_calibrated_parameter_without_a_posterior_is_fixed_with_a_reason(no_posterior):
    params = build_parameter_set()
    status = psa_status(params, "disease.death_hazard_ratio_per_progression", None)
    assert status.startswith("fixed: a calibrated point estimate") and "--posterior" in status
    assert "disease.death_hazard_ratio_per_progression" not in draw_parameters(params, 5, 1)[1]


def test_a_scenario_adds_overrides_or_removes_a_psa_distribution(toy_posterior):
    library = build_parameter_set()
    params = build_parameter_set(
        {
            # A distribution on a parameter that had a fixed reason in the library.
            "cohort.age_min": {"psa": {"distribution": "gamma", "se": 2.0, "assumption": "test"}},
            # A calibrated parameter given its own distribution instead of the posterior's.
            "disease.death_hazard_ratio_per_progression": {"psa": {"distribution": "lognormal", "se": 0.3, "source": "test"}},
            # A drawn parameter held fixed, with the scenario's reason.
            "lanreotide.progression_hazard_ratio": {"psa_fixed": "the appraisal committee's preferred value"},
            # A new value and a new distribution together.
            "disease.hr_grade_g2": {"value": 1.5, "psa": {"distribution": "lognormal", "se": 0.1, "assumption": "test"}},
        },
        "s.yaml",
    )
    # A distribution alone keeps the value and its provenance.
    assert params.entries["cohort.age_min"].value == library.entries["cohort.age_min"].value
    assert params.entries["cohort.age_min"].provenance == library.entries["cohort.age_min"].provenance
    drawn = draw_parameters(params, 5, 3)[1]
    assert "cohort.age_min" in drawn and "lanreotide.progression_hazard_ratio" not in drawn
    assert psa_status(params, "lanreotide.progression_hazard_ratio", toy_posterior) == "fixed: the appraisal committee's preferred value"
    assert psa_status(params, "disease.death_hazard_ratio_per_progression", toy_posterior).startswith("lognormal(se=0.3)")
    assert "disease.death_hazard_ratio_per_progression" in drawn
    # Still from the posterior: the other calibrated parameter.
    assert drawn["natural_history.time_to_progression.median"] == pytest.approx(6 + drawn[POSTERIOR_ROW] / 10)
    assert params.entries["disease.hr_grade_g2"].value == 1.5 and params.origins["disease.hr_grade_g2"] == "s.yaml"


@pytest.mark.parametrize(
    ("override", "field", "expected"),
    [
        ({"psa": {"distribution": "lognormal", "se": 0.3}}, "parameters.disease.hr_grade_g2", "'source' or an 'assumption'"),
        ({"psa": {"distribution": "beta", "se": 0.3, "source": "x"}}, "parameters.disease.hr_grade_g2", "beta only for units"),
        ({"psa": {"distribution": "lognormal", "se": 0.3, "source": "x"}, "psa_fixed": "r"}, "psa_fixed", "not both"),
        ({"psa_spec": {}}, "parameters.disease.hr_grade_g2.psa_spec", "psa or psa_fixed"),
    ],
)
def test_a_bad_psa_override_is_one_line_naming_file_and_field(write_scenario, tmp_path, capsys, override, field, expected):
    path = write_scenario(tiny_scenario(parameters={"disease.hr_grade_g2": override}))
    assert main(["psa", str(path), "--draws", "2", "--patients", "5", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and path.name in err and field in err and expected in err, err
    assert not (tmp_path / "o").exists()


def test_a_dirichlet_spec_needs_a_group_and_a_count():
    base = {"value": 0.3, "unit": "proportion", "source": "x"}
    with pytest.raises(ValueError, match="'group' and 'count'"):
        ParameterEntry.model_validate({**base, "psa": {"distribution": "dirichlet", "group": "g", "source": "x"}})
    with pytest.raises(ValueError, match="only for shares"):
        ParameterEntry.model_validate(
            {"value": 3.0, "unit": "months", "source": "x", "psa": {"distribution": "dirichlet", "group": "g", "count": 9, "source": "x"}}
        )


def test_a_baseline_psa_draws_clinical_and_economic_parameters(tmp_path):
    """Criterion 2: psa_parameters.csv of a baseline PSA holds every drawn parameter, clinical ones included."""
    out = tmp_path / "psa"
    args = ["psa", str(ROOT / "scenarios" / "baseline.yaml"), "--draws", "2", "--patients", "10", "--out", str(out), "--quiet"]
    assert main([*args, "--workers", "1"]) == 0
    columns = set(read_csv(out / "psa_parameters.csv").columns)
    expected = set(drawn_columns(build_parameter_set(), load_posterior()))
    assert expected <= columns
    assert set(CLINICAL_EXAMPLES) <= columns
    assert {"cost.end_of_life", "utility.progressed"} <= columns


def test_dsa_bounds_come_from_the_psa_distribution_or_the_posterior(toy_posterior):
    bounds = {b.label: b for b in dsa_bounds(build_parameter_set(), toy_posterior)}
    grade = bounds["disease.hr_grade_g3"]  # J Oncol 2020: 4.234 (1.984-6.763)
    assert grade.low == pytest.approx(4.234 / math.sqrt(6.763 / 1.984), rel=1e-3)
    assert grade.high == pytest.approx(4.234 * math.sqrt(6.763 / 1.984), rel=1e-3)
    posterior = bounds["disease.death_hazard_ratio_per_progression"]
    values = 1 + np.arange(1, 201) / 100
    assert (posterior.low, posterior.high) == (pytest.approx(np.quantile(values, 0.025)), pytest.approx(np.quantile(values, 0.975)))
    assert "posterior" in posterior.source
    curve = bounds["ablation.time_to_progression.median"]
    assert curve.low < 15.6 < curve.high
    assert {b.label for b in dsa_bounds(build_parameter_set(), toy_posterior, "economic")} <= {
        label for label in bounds if label.startswith(("cost.", "utility.", "economics."))
    }


# ------------------------------------------------------------------------------ Monte Carlo error


def _frames(costs: np.ndarray, qalys: np.ndarray, names=("a", "b")) -> tuple[pd.DataFrame, pd.DataFrame]:
    index = pd.Index(range(1, len(costs) + 1), name="draw")
    return pd.DataFrame(costs, index=index, columns=list(names)), pd.DataFrame(qalys, index=index, columns=list(names))


def test_standard_error_is_the_sd_over_the_root_of_the_draws():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    assert standard_error(values) == pytest.approx(np.std(values, ddof=1) / 2)


def test_a_clear_decision_is_resolved_and_a_coin_toss_is_not():
    rng = np.random.default_rng(3)
    draws = 200
    qalys = np.column_stack([np.full(draws, 5.0), 5.0 + rng.normal(1.0, 0.5, draws)])
    costs = np.zeros((draws, 2))
    clear = decision_table(*_frames(costs, qalys), [20000.0], 100)
    assert clear.loc[0, "best"] == "b" and bool(clear.loc[0, "resolved"])
    # b better by 0.01 QALY on average with SD 0.5 per draw: 1.96 SE = 0.07, unresolved.
    qalys = np.column_stack([np.full(draws, 5.0), 5.0 + 0.01 + rng.normal(0.0, 0.5, draws)])
    close = decision_table(*_frames(costs, qalys), [20000.0], 100)
    row = close.iloc[0]
    assert not row["resolved"]
    assert row["nmb_difference_se"] == pytest.approx(20000 * np.std(qalys[:, 1] - 5.0, ddof=1) / math.sqrt(draws), rel=1e-9)
    if row["nmb_difference"] > 0:
        assert row["draws_needed"] == math.ceil(draws * (1.959964 * row["nmb_difference_se"] / row["nmb_difference"]) ** 2)
    (sentence,) = unresolved_warnings(close, "GBP")
    assert "does not resolve" in sentence and "200 draws of 100 patients" in sentence


def test_psa_writes_its_monte_carlo_error_and_warns_when_undecided(write_scenario, tmp_path, capsys):
    path = write_scenario(tiny_scenario(cohort={"size": 10}))
    out = tmp_path / "psa"
    assert main(["psa", str(path), "--draws", "6", "--patients", "8", "--out", str(out), "--quiet", "--workers", "1"]) == 0
    summary = read_csv(out / "psa_summary.csv")
    outcomes = read_csv(out / "psa.csv")
    for strategy in summary["strategy"]:
        costs = outcomes.loc[outcomes["strategy"] == strategy, "costs"].to_numpy()
        se = summary.loc[summary["strategy"] == strategy, "costs_se"].iloc[0]
        assert se == pytest.approx(np.std(costs, ddof=1) / math.sqrt(len(costs)), rel=1e-6)
    assert {"qalys_se", "inmb_20000", "inmb_se_20000"} <= set(summary.columns)
    decision = read_csv(out / "psa_decision.csv")
    assert list(decision["wtp"]) == [20000, 30000]
    err = capsys.readouterr().err
    unresolved = int((~decision["resolved"].astype(bool)).sum())
    assert err.count("does not resolve") == unresolved


def test_a_scenario_value_the_library_distribution_cannot_fit_is_fixed_with_the_reason():
    """A share near 1 set by a scenario: the library's beta SE (0.018) is too wide for it, so the
    parameter is held fixed in the PSA and says why; a value it fits keeps the library's spread."""
    params = build_parameter_set({"cohort.functional": 0.99999, "cohort.primary_pancreas": 0.2}, "s.yaml")
    assert params.entries["cohort.functional"].psa is None
    assert psa_status(params, "cohort.functional").startswith("fixed: the library's PSA distribution, beta(se=0.01819)")
    assert "s.yaml" in psa_status(params, "cohort.functional")
    assert params.entries["cohort.primary_pancreas"].psa == build_parameter_set().entries["cohort.primary_pancreas"].psa
    assert "cohort.functional" not in draw_parameters(params, 1, 0)[1]
