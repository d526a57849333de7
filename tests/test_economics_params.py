"""Economic parameters: provenance, the psa:/low/high schema, parameter draws, the economics: section."""

from __future__ import annotations

import csv
import io
import math
import re

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from simulator.cli import main
from simulator.economics.sampling import draw_parameters, drawn_columns, load_posterior, with_value
from simulator.economics.valuation import VALUATION_ONLY_PREFIXES
from simulator.params.parameter_set import ParameterSet, build_parameter_set, library_folder, load_library
from simulator.params.schema import ParameterEntry

from .conftest import ROOT, tiny_scenario

Z = 4.0  # tolerance of statistical checks, in standard errors
ECONOMICS_FILE = "economics.yaml"


def economics_names() -> list[str]:
    return sorted(yaml.safe_load((library_folder() / ECONOMICS_FILE).read_text(encoding="utf-8")))


def test_every_cost_and_utility_has_provenance_shown_by_params(capsys):
    assert main(["params", "--csv"]) == 0
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    names = economics_names()
    assert len(names) > 40
    for name in names:
        row = rows[name]
        assert row["file"] == ECONOMICS_FILE and row["unit"] and row["value"], name
        assert len(row["source"]) > 20, name  # a citation or "assumption: <reason>"
        # "<distribution>; <source or assumption: reason>" or "fixed: <reason>"
        reason = row["psa"].removeprefix("fixed: ") if row["psa"].startswith("fixed: ") else row["psa"].split("; ", 1)[1]
        assert len(reason) > 10, name
    assert "NICE TA449" in rows["cost.everolimus_per_28_days"]["source"]
    assert "NICE TA539" in rows["cost.prrt_drug_per_administration"]["source"]
    assert "12955-017-0711-z" in rows["utility.progression_free"]["source"]  # Meng 2017, EQ-5D mapped (CLARINET)
    assert rows["utility.progressed"]["value"] == "0.726"
    assert rows["cost.octreotide_lar_per_28_days"]["source"].startswith("assumption:")
    assert rows["utility.progressed"]["dsa_range"].startswith("[0.61, 0.776]")
    # The burden fit's plausible ranges, each with its source; nothing else has one.
    library = load_library()
    ranged = {name for name, (entry, _origin) in library.items() if entry.calibration_range is not None}
    assert ranged and {name for name, row in rows.items() if row["calibration_range"]} == ranged
    lower, upper = library["tumour.growth_sd_log"][0].calibration_range
    assert rows["tumour.growth_sd_log"]["calibration_range"].startswith(f"[{lower:g}, {upper:g}]; ")


def test_economic_entries_are_valuation_only_and_only_economic_entries_are():
    names = set(economics_names())
    for name, (entry, _origin) in load_library().items():
        assert (name in names) == name.startswith(VALUATION_ONLY_PREFIXES), name
        if name in names:
            assert entry.unit.startswith(("gbp", "utility", "days", "years", "patients")), name


def test_every_adverse_event_type_valued_exists_in_the_pathways():
    """cost.ae_<type> entries are read for every type; each type must be one the model can log."""
    code = " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "simulator" / "pathways").glob("*.py"))
    types = [n.removeprefix("cost.ae_") for n in load_library() if n.startswith("cost.ae_")]
    assert types
    for kind in types:
        assert re.search(rf"['\":]{kind}['\"]", code), kind
        assert f"utility.ae_decrement_{kind}" in load_library() and f"utility.ae_days_{kind}" in load_library()


# ------------------------------------------------------------------------------ schema


def entry(**fields) -> dict:
    return {"value": 0.5, "unit": "probability", "source": "test", **fields}


BAD = {
    "beta se too large": (entry(psa={"distribution": "beta", "se": 0.6, "assumption": "x"}), "below sqrt"),
    "beta on a cost": (entry(value=100, unit="gbp", psa={"distribution": "beta", "se": 1, "assumption": "x"}), "bounded above by 1"),
    "gamma on a probability": (entry(psa={"distribution": "gamma", "se": 0.1, "assumption": "x"}), "non-negative unbounded"),
    "normal on a value": (entry(psa={"distribution": "normal", "se": 0.1, "assumption": "x"}), "for a value"),
    "psa without provenance": (entry(psa={"distribution": "beta", "se": 0.1}), "'source' or an 'assumption'"),
    "psa without se": (entry(psa={"distribution": "beta", "assumption": "x"}), "'se'"),
    "low without high": (entry(low=0.1, range_source="x"), "both 'low' and 'high'"),
    "low above high": (entry(low=0.6, high=0.4, range_source="x"), "'low' <= 'high'"),
    "bounds without provenance": (entry(low=0.1, high=0.9), "range_source"),
    "bound outside the unit": (entry(low=0.1, high=1.5, range_source="x"), "<= 1"),
    "calibration range without provenance": (entry(calibration_range=[0.1, 0.9]), "'calibration_range_source'"),
    "calibration range with a bare assumption": (
        entry(calibration_range=[0.1, 0.9], calibration_range_source="assumption"),
        "with a reason",
    ),
    "calibration range reversed": (entry(calibration_range=[0.9, 0.1], calibration_range_source="x"), "lower < upper"),
    "calibration range outside the unit": (entry(calibration_range=[0.1, 1.5], calibration_range_source="x"), "<= 1"),
    "bounds on a distribution": (
        {"distribution": "exponential", "params": {"median": 6}, "unit": "months", "source": "t", "low": 1, "high": 2, "range_source": "x"},
        "only on a value entry",
    ),
    "mvnormal not positive semi-definite": (
        {
            "distribution": "weibull",
            "params": {"shape": 1.2, "scale": 10},
            "unit": "months",
            "source": "t",
            "psa": {
                "distribution": "mvnormal",
                "parameters": ["shape", "scale"],
                "scale": "log",
                "covariance": [[0.01, 0.2], [0.2, 0.01]],
                "source": "t",
            },
        },
        "positive semi-definite",
    ),
    "mvnormal of an unknown parameter": (
        {
            "distribution": "weibull",
            "params": {"shape": 1.2, "scale": 10},
            "unit": "months",
            "source": "t",
            "psa": {"distribution": "mvnormal", "parameters": ["shape", "rate"], "covariance": [[0.01, 0], [0, 0.01]], "source": "t"},
        },
        "numeric params",
    ),
    "beta on a distribution": (
        {
            "distribution": "exponential",
            "params": {"median": 6},
            "unit": "months",
            "source": "t",
            "psa": {"distribution": "beta", "se": 0.1, "source": "t"},
        },
        "normal or mvnormal",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_sensitivity_fields_are_refused_with_a_reason(case):
    data, expected = BAD[case]
    with pytest.raises(ValidationError, match=re.escape(expected)):
        ParameterEntry.model_validate(data)


def test_an_override_on_the_boundary_keeps_a_degenerate_distribution():
    params = build_parameter_set({"cost.end_of_life": 0, "utility.uncontrolled_symptoms_decrement": 0})
    drawn, values = draw_parameters(params, 1, 3)
    assert values["cost.end_of_life"] == 0 and drawn.value("utility.uncontrolled_symptoms_decrement") == 0


# ------------------------------------------------------------------------------ draws


def small_set(**entries: dict) -> ParameterSet:
    built = {name: ParameterEntry.model_validate(data) for name, data in entries.items()}
    return ParameterSet(built, {name: "test" for name in built})


def draws(params: ParameterSet, n: int, seed: int = 99) -> dict[str, np.ndarray]:
    rows = [draw_parameters(params, seed, d)[1] for d in range(1, n + 1)]
    return {key: np.array([r[key] for r in rows]) for key in rows[0]}


def test_gamma_and_beta_draws_have_the_stated_mean_and_standard_error():
    params = small_set(
        cost={
            "value": 1000.0,
            "unit": "gbp",
            "price_year": 2024,
            "source": "t",
            "psa": {"distribution": "gamma", "se": 250.0, "source": "t"},
        },
        utility={"value": 0.7, "unit": "utility", "source": "t", "psa": {"distribution": "beta", "se": 0.05, "source": "t"}},
        ratio={"value": 2.0, "unit": "hazard_ratio", "source": "t", "psa": {"distribution": "lognormal", "se": 0.2, "source": "t"}},
    )
    n = 3000
    values = draws(params, n)
    for name, mean, se in (("cost", 1000.0, 250.0), ("utility", 0.7, 0.05)):
        x = values[name]
        assert abs(x.mean() - mean) < Z * se / math.sqrt(n), name
        assert abs(x.std(ddof=1) - se) < Z * se / math.sqrt(2 * (n - 1)) * 1.5, name  # SE of an SD (x1.5: skewness)
    logs = np.log(values["ratio"])
    assert abs(logs.mean() - math.log(2.0)) < Z * 0.2 / math.sqrt(n)
    assert (values["utility"] > 0).all() and (values["utility"] < 1).all() and (values["cost"] > 0).all()


def test_mvnormal_draws_of_a_fitted_weibull_have_the_stated_covariance():
    covariance = [[0.010, -0.004], [-0.004, 0.020]]
    params = small_set(
        ttp={
            "distribution": "weibull",
            "params": {"shape": 1.3, "scale": 12.0},
            "unit": "months",
            "source": "t",
            "psa": {"distribution": "mvnormal", "parameters": ["shape", "scale"], "scale": "log", "covariance": covariance, "source": "t"},
        },
    )
    n = 3000
    values = draws(params, n)
    logs = np.column_stack([np.log(values["ttp.shape"]), np.log(values["ttp.scale"])])
    centre = np.log([1.3, 12.0])
    sd = np.sqrt(np.diag(covariance))
    assert (np.abs(logs.mean(axis=0) - centre) < Z * sd / math.sqrt(n)).all()
    sample = np.cov(logs, rowvar=False)
    c = np.asarray(covariance)
    se = np.sqrt((np.outer(np.diag(c), np.diag(c)) + c**2) / (n - 1))  # normal-theory SE of covariances
    assert (np.abs(sample - c) < Z * se).all(), sample
    drawn, _ = draw_parameters(params, 99, 1)
    assert drawn.dist("ttp").median > 0


def test_draws_are_keyed_by_seed_draw_and_name_only():
    library = build_parameter_set()
    _, first = draw_parameters(library, 7, 4)
    _, again = draw_parameters(library, 7, 4)
    _, other_draw = draw_parameters(library, 7, 5)
    _, other_seed = draw_parameters(library, 8, 4)
    assert first == again
    assert first.pop("psa_redraws") == 0 and other_draw.pop("psa_redraws") == 0
    assert set(first) == set(drawn_columns(library, load_posterior()))
    for name in first:
        assert first[name] != other_draw[name] and first[name] != other_seed[name], name
    # A parameter's draw does not depend on which other parameters are drawn.
    alone = small_set(**{"utility.progressed": library.entries["utility.progressed"].model_dump(exclude_none=True)})
    assert draw_parameters(alone, 7, 4)[1]["utility.progressed"] == first["utility.progressed"]


def test_with_value_replaces_one_value():
    library = build_parameter_set()
    changed = with_value(library, "cost.end_of_life", 1234.0)
    assert changed.value("cost.end_of_life") == 1234.0 and library.value("cost.end_of_life") == 4500
    with pytest.raises(ValueError):
        with_value(library, "natural_history.time_to_progression", 1.0)


# ------------------------------------------------------------------------------ scenario economics section

BAD_SECTIONS = {
    "unknown comparator": ({"comparator": "magic"}, "economics.comparator", "strategy of this scenario"),
    "negative willingness to pay": ({"willingness_to_pay": [-1]}, "economics.willingness_to_pay", ">= 0"),
    "unsorted willingness to pay": ({"willingness_to_pay": [30000, 20000]}, "economics.willingness_to_pay", "increasing"),
    "discount rate of 150%": ({"discount_rate_costs": 1.5}, "economics.discount_rate_costs", "< 1"),
    "currency not an ISO 4217 code": ({"currency": "usd"}, "economics.currency", "ISO 4217"),
    "other currency without its price year": ({"currency": "USD"}, "economics.price_year", "currency other than GBP"),
    "unknown key": ({"inflation": 0.02}, "economics.inflation", "unknown key"),
}


@pytest.mark.parametrize("case", sorted(BAD_SECTIONS))
def test_bad_economics_section_gets_one_line(case, write_scenario, tmp_path, capsys):
    section, field, expected = BAD_SECTIONS[case]
    path = write_scenario(tiny_scenario(economics=section))
    status = main(["psa", str(path), "--out", str(tmp_path / "out"), "--draws", "2", "--patients", "5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert field in err[0] and expected in err[0], err[0]
    assert not (tmp_path / "out").exists()


def test_economics_section_defaults_are_the_nice_reference_case(write_scenario):
    from simulator.config import load_scenario

    economics = load_scenario(write_scenario(tiny_scenario())).economics
    assert economics.discount_rate_costs == economics.discount_rate_effects == 0.035
    assert economics.willingness_to_pay == [20000, 30000] and economics.currency == "GBP"
    custom = load_scenario(
        write_scenario(tiny_scenario(economics={"comparator": "systemic-first", "willingness_to_pay": [50000]}))
    ).economics
    assert custom.comparator == "systemic-first" and custom.willingness_to_pay == [50000]


def test_evpi_population_default_and_override():
    from simulator.config import EconomicsConfig
    from simulator.economics.settings import EconomicSettings

    library = build_parameter_set()
    incidence, years = library.value("economics.annual_incident_patients"), library.value("economics.decision_horizon_years")
    rho = math.log(1.035)
    default = EconomicSettings.from_config(EconomicsConfig()).decision_population(library)
    assert default == pytest.approx(incidence * (1 - math.exp(-rho * years)) / rho, rel=1e-12)
    assert incidence * years * math.exp(-rho * years) < default < incidence * years  # discounted stream
    assert EconomicSettings.from_config(EconomicsConfig(discount_rate_costs=0)).decision_population(library) == pytest.approx(
        incidence * years
    )
    assert EconomicSettings.from_config(EconomicsConfig(population=500)).decision_population(library) == 500


def test_draws_outside_support_are_redrawn_and_counted():
    """A normal PSA draw of a Weibull shape with a huge SE falls below 0 about half the time: each such
    draw is replaced by the stream's next one, and the count is reported."""
    entry = {
        "distribution": "weibull",
        "params": {"shape": 1.0, "median": 10.0},
        "unit": "months",
        "assumption": "test",
        "psa": {"distribution": "normal", "parameters": ["shape"], "se": 1.0, "assumption": "test"},
    }
    params = small_set(**{"natural_history.time_to_progression": entry})
    total = 0
    for draw in range(1, 41):
        drawn_params, drawn = draw_parameters(params, 3, draw)
        assert drawn["natural_history.time_to_progression.shape"] > 0
        assert drawn_params.dist("natural_history.time_to_progression").median > 0
        total += drawn["psa_redraws"]
    # P(shape < 0) = P(Z < -1) = 0.159 per attempt: 40 draws give about 7.5 re-draws; 0 would be very unlikely.
    assert total > 0
