"""Economics to the NICE reference case (issue 18): prices and provenance shown by `params`, a patient
history valued by hand (age-adjusted utilities, inflated costs, lifetime horizon to age 100), the
severity weight, subgroup rows that add up to the overall row, a scenario in euros and its refusal."""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.config import EconomicsConfig, Scenario, load_scenario
from simulator.economics.population import general_population_qalys
from simulator.economics.settings import EconomicSettings
from simulator.economics.severity import severity_weight
from simulator.economics.valuation import CATEGORY_COLUMNS, economics_table, value_patients
from simulator.experiments.runner import prepare, run_prepared
from simulator.params.parameter_set import build_parameter_set
from simulator.pathways.base import DAYS_PER_MONTH

from .conftest import tiny_scenario

EUR_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "eur-prrt.yaml"

# NHS Cost Inflation Index, pay and prices, % change into each financial year (PSSRU 2025 Manual), typed
# here by hand from params/data/nhs_cost_inflation_index_SOURCE.md so the test does not read the code's copy.
NHSCII = {2015: 0.40, 2016: 2.09, 2017: 1.24, 2018: 1.60, 2019: 2.14, 2020: 2.49, 2021: 2.58, 2022: 7.32, 2023: 2.47, 2024: 4.02}
# UK EQ-5D-3L norms (McNamara 2023) of the bands the hand-valued patients pass through.
MALE_55_59, MALE_60_64, MALE_65_69 = 0.816945100303802, 0.809442623257697, 0.798471807295663
FEMALE_60_64, FEMALE_90_PLUS = 0.784427884630109, 0.66505869837287


def to_2024(year: int) -> float:
    return math.prod(1 + NHSCII[y] / 100 for y in range(year + 1, 2025))


# ------------------------------------------------------------------------------ acceptance 1: params


def test_params_shows_every_cost_with_its_price_years_and_every_utility_with_its_source(capsys):
    assert main(["params", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    library = yaml.safe_load((Path(__file__).resolve().parents[1] / "simulator/params/library/economics.yaml").read_text())
    costs = [r for r in rows if r["name"].startswith("cost.")]
    utilities = [r for r in rows if r["name"].startswith("utility.")]
    assert len(costs) >= 30 and len(utilities) >= 30
    for row in costs:
        source_year = library[row["name"]]["price_year"]
        assert row["price_year"] == f"{source_year}/{(source_year + 1) % 100:02d} -> 2024/25", row["name"]
        assert len(row["source"]) > 20, row["name"]
    for row in utilities:
        assert len(row["source"]) > 20 and row["price_year"] == "", row["name"]
    assert not [r for r in rows if not r["name"].startswith("cost.") and r["price_year"]]


def test_params_of_a_scenario_shows_its_price_year_and_its_own_costs(write_scenario, capsys):
    path = write_scenario(
        tiny_scenario(economics={"price_year": 2020, "costs": {"cost.end_of_life": {"value": 5000, "source": "a ward audit"}}})
    )
    assert main(["params", str(path), "--csv"]) == 0
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows["cost.everolimus_per_28_days"]["price_year"] == "2016/17 -> 2020/21"
    own = rows["cost.end_of_life"]
    assert (own["value"], own["price_year"], own["source"], own["file"]) == ("5000", "2020/21 GBP (scenario)", "a ward audit", path.name)


# ------------------------------------------------------------------------------ acceptance 2: a history valued by hand


def discounted(start_months: float, end_months: float, rate: float = 0.035) -> float:
    rho = math.log1p(rate)
    return (math.exp(-rho * start_months / 12) - math.exp(-rho * end_months / 12)) / rho


def known_histories() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A man of 58.5 on everolimus for 30 months, progressed, dead at 90 months (age 66); a woman of
    93.2 on surveillance who dies at 100 months, past age 100 (at 81.6 months)."""
    histories = {
        0: [
            (0, "entry", "untreated", ""),
            (0, "treatment_start", "on_everolimus", "everolimus"),
            (30, "progression", "progressed", "everolimus"),
        ]
        + [(30, "treatment_start", "surveillance", "surveillance"), (90, "death", "dead", "disease")],
        1: [(0, "entry", "untreated", ""), (0, "treatment_start", "surveillance", "surveillance"), (100, "death", "dead", "other")],
    }
    rows = []
    for pid, events in histories.items():
        state = "entry"
        for time, event, to_state, detail in events:
            rows.append((0, "s", pid, float(time), event, state, to_state, detail))
            state = to_state
    log = pd.DataFrame(rows, columns=["replication", "strategy", "patient_id", "time", "event", "from_state", "to_state", "detail"])
    patients = pd.DataFrame(
        {"replication": 0, "strategy": "s", "patient_id": [0, 1], "functional": False, "age": [58.5, 93.2], "sex": ["male", "female"]}
    )
    return log, patients


def test_a_known_history_valued_by_hand_matches_to_1e_9():
    log, patients = known_histories()
    out = value_patients(log, patients, build_parameter_set(), EconomicSettings.from_config(EconomicsConfig()))
    man, woman = out.iloc[0], out.iloc[1]
    rho = math.log1p(0.035)

    # Man: everolimus paid at the start of each 28-day cycle begun in 30 months, at 2016/17 list price.
    cycle = 28 / DAYS_PER_MONTH
    cycles = math.ceil(30 / cycle)
    drug = 2494.80 * to_2024(2016)
    drugs = sum(drug * math.exp(-rho * k * cycle / 12) for k in range(cycles))
    follow_up = 12 * 150 * to_2024(2022) * discounted(0, 30) + 12 * 400 * to_2024(2022) * discounted(30, 90)
    end_of_life = 4500 * to_2024(2014) * math.exp(-rho * 90 / 12)
    assert man["cost_drugs"] == pytest.approx(drugs, abs=1e-9)
    assert man["cost_follow_up"] == pytest.approx(follow_up, abs=1e-9)
    assert man["cost_end_of_life"] == pytest.approx(end_of_life, abs=1e-9)
    assert man["costs"] == pytest.approx(drugs + follow_up + end_of_life, abs=1e-9)
    undiscounted = cycles * drug + 150 * to_2024(2022) * 30 + 400 * to_2024(2022) * 60 + 4500 * to_2024(2014)
    assert man["costs_undiscounted"] == pytest.approx(undiscounted, abs=1e-9)
    # Age-adjusted QALYs: 60 at 18 months and 65 at 78 months; utilities measured at age 62.7 (band 60-64).
    qalys = 0.776 * (MALE_55_59 / MALE_60_64 * discounted(0, 18) + discounted(18, 30))
    qalys += 0.726 * (discounted(30, 78) + MALE_65_69 / MALE_60_64 * discounted(78, 90))
    assert man["qalys"] == pytest.approx(qalys, abs=1e-9)
    assert man["life_years"] == pytest.approx(discounted(0, 90), abs=1e-9)

    # Woman: valued to age 100 (81.6 months), with no end-of-life cost (her death is past the horizon).
    lifetime = (100 - 93.2) * 12
    assert woman["life_years_undiscounted"] == pytest.approx(lifetime / 12, abs=1e-9)
    assert woman["costs"] == pytest.approx(12 * 150 * to_2024(2022) * discounted(0, lifetime), abs=1e-9)
    assert woman["cost_end_of_life"] == 0
    assert woman["qalys"] == pytest.approx(0.776 * FEMALE_90_PLUS / FEMALE_60_64 * discounted(0, lifetime), abs=1e-9)


def test_without_age_adjustment_the_library_utilities_are_used_as_they_are():
    log, patients = known_histories()
    settings = EconomicSettings.from_config(EconomicsConfig(age_adjusted_utilities=False))
    out = value_patients(log, patients, build_parameter_set(), settings)
    assert out.iloc[1]["qalys"] == pytest.approx(0.776 * discounted(0, (100 - 93.2) * 12), abs=1e-9)


def test_general_population_qalys_of_a_90_year_old_woman_by_hand():
    """Ages 90 to 100, one constant hazard per year of age (ONS qx), norm 0.665 throughout, 3.5%."""
    table = pd.read_csv(Path(__file__).resolve().parents[1] / "simulator/params/data/life_table.csv")
    qx = table[(table["sex"] == "female")].set_index("age")["qx"]
    rho, survival, expected = math.log1p(0.035), 1.0, 0.0
    for k, age in enumerate(range(90, 100)):
        h = -math.log1p(-qx[age])
        expected += FEMALE_90_PLUS * survival * math.exp(-rho * k) * -math.expm1(-(h + rho)) / (h + rho)
        survival *= math.exp(-h)
    assert general_population_qalys([90.0], ["female"], 1200, 0.035)[0] == pytest.approx(expected, abs=1e-12)
    # A horizon of one year counts only the first year of age.
    h90 = -math.log1p(-qx[90])
    first_year = FEMALE_90_PLUS * -math.expm1(-(h90 + rho)) / (h90 + rho)
    assert general_population_qalys([90.0], ["female"], 12, 0.035)[0] == pytest.approx(first_year, abs=1e-12)


@pytest.mark.parametrize(
    "absolute, proportional, weight",
    [(11.99, 0.8499, 1.0), (12.0, 0.1, 1.2), (1.0, 0.85, 1.2), (17.99, 0.9499, 1.2), (18.0, 0.1, 1.7), (1.0, 0.95, 1.7)],
)
def test_severity_weight_follows_pmg36_cut_offs_a_value_on_a_cut_off_taking_the_higher(absolute, proportional, weight):
    assert severity_weight(absolute, proportional) == weight


# ------------------------------------------------------------------------------ acceptance 4: subgroups


@pytest.fixture(scope="module")
def valued_run():
    scenario = Scenario.model_validate(tiny_scenario(replications=2, cohort={"size": 80}, horizon_months="lifetime"))
    prepared = prepare(scenario, "test.yaml")
    result = run_prepared(prepared)
    values = value_patients(result.events, result.patients, prepared.params, EconomicSettings.from_scenario(scenario))
    return prepared, result, values


def test_subgroup_rows_have_patient_weighted_means_equal_to_the_overall_row(valued_run):
    prepared, result, values = valued_run
    names = [s.name for s in prepared.strategies]
    table = economics_table(values, names, result.patients, ("primary_site", "grade", "resectable"))
    overall = table[table["subgroup"] == "all"].set_index("strategy")
    columns = ["costs", "qalys", "life_years", "costs_undiscounted", "qalys_undiscounted", *CATEGORY_COLUMNS, "qalys_general_population"]
    for trait in ("primary_site", "grade", "resectable"):
        rows = table[table["subgroup"] == trait]
        assert rows["subgroup_value"].nunique() >= 2, trait
        for strategy, part in rows.groupby("strategy"):
            assert part["patients"].sum() == overall.at[strategy, "patients"]
            weighted = (part[columns].mul(part["patients"], axis=0)).sum() / part["patients"].sum()
            np.testing.assert_allclose(weighted.to_numpy(float), overall.loc[strategy, columns].to_numpy(float), rtol=1e-12)


def test_costs_by_category_add_up_to_the_costs_of_each_patient(valued_run):
    _, _, values = valued_run
    np.testing.assert_allclose(values[list(CATEGORY_COLUMNS)].sum(axis=1), values["costs"], rtol=1e-12, atol=1e-9)
    assert (values[list(CATEGORY_COLUMNS)] >= 0).all().all()


@pytest.mark.slow  # a whole run folder with its figures (about 2 s)
def test_run_by_writes_subgroup_rows_and_per_patient_values(tmp_path, write_scenario, capsys):
    path = write_scenario(tiny_scenario(cohort={"size": 30}))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--by", "grade", "--quiet"]) == 0
    economics = read_csv(tmp_path / "out" / "economics.csv")
    icer = read_csv(tmp_path / "out" / "icer.csv")
    assert set(economics["subgroup"]) == {"all", "grade"} and set(icer["subgroup"]) == {"all", "grade"}
    patients = read_csv(tmp_path / "out" / "patients.csv")
    for column in ("costs", "costs_undiscounted", "qalys", "qalys_undiscounted"):
        assert patients[column].notna().all(), column
    overall = economics[economics["subgroup"] == "all"].set_index("strategy")
    means = patients.groupby("strategy")["costs"].mean()
    for strategy in means.index:
        assert overall.at[strategy, "costs"] == pytest.approx(means[strategy], rel=1e-8)  # CSV keeps 10 significant digits
    assert {"qaly_shortfall_absolute", "qaly_shortfall_proportional", "severity_weight"} <= set(economics.columns)


def test_summary_mode_refuses_subgroups_in_one_line(tmp_path, write_scenario, capsys):
    path = write_scenario(tiny_scenario(cohort={"size": 30}, economics={"subgroups": ["grade"]}))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--summary", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "economics.subgroups" in err[0]
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ acceptance 5: another currency


def test_a_scenario_in_euros_with_its_own_cost_table_runs_in_euros(tmp_path):
    scenario = load_scenario(EUR_SCENARIO).with_overrides(patients=40, replications=1)
    prepared = prepare(scenario, EUR_SCENARIO)
    result = run_prepared(prepared)
    settings = EconomicSettings.from_scenario(scenario)
    assert (settings.currency, settings.price_year) == ("EUR", 2023)
    values = value_patients(result.events, result.patients, prepared.params, settings)
    assert values["costs"].notna().all() and (values["costs"] > 0).all()
    # Every euro cost is the table's own: doubling the table doubles every patient's costs exactly.
    doubled = {name: 2 * value for name, value in settings.cost_table.items()}
    twice = value_patients(
        result.events,
        result.patients,
        prepared.params,
        EconomicSettings.from_config(scenario.economics.model_copy(update={"costs": doubled})),
    )
    np.testing.assert_allclose(twice["costs"], 2 * values["costs"], rtol=1e-12)


@pytest.mark.slow  # a whole run folder with its figures
def test_the_euro_example_runs_from_the_command_line(tmp_path, capsys):
    assert main(["run", str(EUR_SCENARIO), "--out", str(tmp_path / "eur"), "--patients", "20", "--replications", "1", "--quiet"]) == 0
    economics = read_csv(tmp_path / "eur" / "economics.csv")
    assert (economics["costs"] > 0).all() and economics["cost_drugs"].gt(0).all()


def test_a_scenario_in_euros_that_leaves_a_cost_out_is_refused_in_one_line_naming_it(tmp_path, write_scenario, capsys):
    data = yaml.safe_load(EUR_SCENARIO.read_text(encoding="utf-8"))
    del data["economics"]["costs"]["cost.prrt_procedure"]
    path = write_scenario(data)
    status = main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert "economics.costs.cost.prrt_procedure" in err[0] and "EUR" in err[0], err[0]
    assert not (tmp_path / "out").exists()
    assert main(["validate", str(path)]) == 2
    assert "economics.costs.cost.prrt_procedure" in capsys.readouterr().err


@pytest.mark.parametrize(
    "economics, field",
    [
        ({"costs": {"cost.magic": 1.0}}, "economics.costs.cost.magic"),
        ({"costs": {"utility.progressed": 0.5}}, "economics.costs.utility.progressed"),
        ({"price_year": 2010}, "economics.price_year"),
        ({"costs": {"cost.end_of_life": {"value": 100}}}, "economics.costs.cost.end_of_life"),
    ],
)
def test_bad_cost_tables_and_price_years_get_one_line(economics, field, write_scenario, capsys):
    path = write_scenario(tiny_scenario(economics=economics))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(re.escape(field), err[0]), err


# ------------------------------------------------------------------------------ item 6: economic variants


@pytest.mark.slow  # three small comparisons
def test_scenarios_reports_costs_qalys_and_net_benefit_per_variant_so_an_economics_override_shows():
    from simulator.experiments.variants import expand, run_analysis

    data = tiny_scenario(
        replications=2,
        cohort={"size": 40},
        variants=[
            {"name": "same", "description": "no change"},
            {"name": "discount-1.5", "economics": {"discount_rate_costs": 0.015, "discount_rate_effects": 0.015}},
        ],
    )
    scenario = Scenario.model_validate(data)
    analysis = run_analysis(scenario, "test.yaml", expand(scenario, "test.yaml"))
    table = analysis.economics_table().set_index(["variant", "strategy"])
    assert {"costs", "qalys", "inb_20000", "inb_30000", "costs_vs_base", "qalys_vs_base"} <= set(table.columns)
    for strategy in ("surgery-first", "systemic-first"):
        assert table.loc[("same", strategy), "costs"] == table.loc[("base", strategy), "costs"]
        assert table.loc[("same", strategy), "costs_vs_base"] == 0
        # A lower discount rate weighs the same future costs and QALYs more: both rise.
        assert table.loc[("discount-1.5", strategy), "costs_vs_base"] > 0
        assert table.loc[("discount-1.5", strategy), "qalys_vs_base"] > 0
    assert table.loc[("base", "surgery-first"), "inb_20000"] == 0  # the comparator against itself


def test_the_default_horizon_is_lifetime_and_lifetime_can_be_written():
    data = tiny_scenario()
    del data["horizon_months"]
    assert Scenario.model_validate(data).horizon_months == 1200.0
    assert Scenario.model_validate(tiny_scenario(horizon_months="lifetime")).horizon_months == 1200.0
    assert Scenario.model_validate(tiny_scenario(horizon_months=240)).horizon_months == 240.0  # calibration scenarios keep theirs
