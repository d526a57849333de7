"""The model description of the report, organised by the STRESS-DES checklist (Monks T et al.,
Strengthening the reporting of empirical simulation studies: introducing the STRESS guidelines,
J Simulation 2019;13(1):55-67), with every item filled in from the run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..engine.cohort import ATTRIBUTE_COLUMNS
from ..outcomes.comparison import DEFAULT_PRECISION_METRICS
from ..pathways import MODALITIES
from . import numbers

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments.compare import Comparison

STATE_DIAGRAM = """entry (t = 0): traits drawn; other-cause death time drawn from the life table
  -> decision: first matching rule of the strategy (else best supportive care)
       -> surgery (hepatectomy / transplant) -> no evidence of disease | debulked -> recurrence
       -> liver-directed therapy (ablation, TAE, TACE, Y-90 sessions) -> progression
       -> systemic line (SSA, everolimus, sunitinib, PRRT, CAPTEM, placebo) -> progression
       -> surveillance / best supportive care (natural-history progression)
  -> progressed -> next decision ...
at any time: dead (disease: piecewise-constant hazard), dead (other cause: life table),
             dead (treatment: procedure mortality), censored (horizon)
beside it, for functional tumours: symptoms uncontrolled <-> controlled"""


def stress_des_items(comparison: Comparison, context: dict) -> list[tuple[str, str, str]]:
    """(item number, item name, text) for the 24 STRESS-DES items."""
    prepared = comparison.prepared
    scenario = prepared.scenario
    strategies = prepared.strategies
    provenance = context["provenance"]
    assumptions = [row["name"] for row in provenance if row["source"].startswith("assumption:")]
    overridden = sorted(scenario.parameters) + [f"cohort.{k}" for k in sorted(scenario.cohort.mix)]
    used = sorted({rule.treatment for s in strategies for rule in s.rules} | {"best_supportive_care"})
    versions = context["versions"]
    precision_flag = (
        "" if comparison.precision is None else f" --precision {comparison.precision:g} --max-replications {context['max_replications']}"
    )
    if comparison.precision is None:
        replications = f"{comparison.replications} replication(s), the number set in the scenario."
    else:
        state = "met" if comparison.precision_met else "NOT met (stopped at the maximum)"
        replications = (
            f"{comparison.replications} replication(s), chosen by the confidence-interval method: replications were added "
            f"one at a time until the 95% CI half-width of {', '.join(comparison.precision_metrics)} was within "
            f"{numbers.percent(comparison.precision)} of the mean for every strategy; the target was {state}."
        )
    return [
        (
            "1.1",
            "Purpose of the model",
            "To compare treatment strategies for patients with neuroendocrine liver metastasis on survival, control of hormonal "
            f"symptoms and treatment burden. Scenario '{scenario.name}': {scenario.description or 'no description given'}",
        ),
        (
            "1.2",
            "Model outputs",
            "Per strategy and replication: Kaplan-Meier median overall survival (OS) and first-line progression-free survival; "
            "OS at landmark years; restricted mean survival time (RMST, area under the Kaplan-Meier curve to the horizon); "
            f"the hazard ratio of death against '{comparison.comparator}' from a two-arm Cox model (lifelines, Efron ties); "
            "life-years gained (RMST difference / 12); symptom outcomes of functional patients (months uncontrolled, share ever "
            "controlled, cumulative incidence of first control, months controlled, symptom-free survival); procedures, lines of "
            "therapy, months on each therapy, adverse events and cause of death. Each is averaged over replications with a "
            "t-based 95% confidence interval (mean +/- t(0.975, R-1) x SD / sqrt(R)); hazard ratios on the log scale.",
        ),
        (
            "1.3",
            "Experimentation aims",
            f"Scenario-based analysis of {len(strategies)} strategies ({', '.join(s.name for s in strategies)}), each a rule set "
            "listed in the Strategies section, run on the same simulated patients (common random numbers).",
        ),
        ("2.1", "Base model overview diagram", STATE_DIAGRAM),
        (
            "2.2",
            "Base model logic",
            "A cohort model: each patient is one SimPy process. At entry and at each progression or recurrence the strategy's "
            "first applicable rule chooses the next treatment, within the treatment's own eligibility. Treatments set the time to "
            "progression, procedure mortality, adverse events and the chance and duration of symptom control. Death races three "
            "clocks: disease death, other-cause death and the end of the horizon.",
        ),
        (
            "2.3",
            "Scenario logic",
            "Strategies differ only in their rules (see Strategies). Parameter overrides of this scenario: "
            + (", ".join(overridden) if overridden else "none")
            + ".",
        ),
        (
            "2.4",
            "Algorithms",
            "Disease death: an exponential exposure drawn at entry is used up by a piecewise-constant hazard (covariate hazard "
            "ratios x state multiplier x a factor per progression). Other-cause death: inversion of the cumulative life-table "
            "hazard. Times to event: inversion of each parameter's distribution at the patient's uniform draw, with proportional "
            "hazards for treatment effects. Analysis: Kaplan-Meier, Cox proportional hazards and RMST from lifelines.",
        ),
        (
            "2.5.1",
            "Components - entities",
            f"Patients, {scenario.cohort.size} per strategy and replication, with traits: {', '.join(ATTRIBUTE_COLUMNS)}.",
        ),
        (
            "2.5.2",
            "Components - activities",
            "Treatments used by the strategies: " + "; ".join(MODALITIES[t].label for t in used if t in MODALITIES) + ".",
        ),
        *_capacity_items(scenario),
        (
            "3.1",
            "Data sources",
            f"{len(provenance) - len(assumptions)} of {len(provenance)} parameters come from published sources named in the "
            "provenance table (evidence base: Mayo SC et al., J Am Coll Surg 2013;216(1):123-34, and the trials and series cited); "
            "other-cause mortality from the ONS National life tables, UK 2017-2019.",
        ),
        (
            "3.2",
            "Pre-processing",
            "Published medians are converted to distribution parameters; Weibull shapes are derived where two published medians "
            "and a hazard ratio fix them (see each parameter's source); life-table probabilities qx are converted to hazards.",
        ),
        (
            "3.3",
            "Input parameters",
            f"{len(provenance)} parameters, each with value or distribution, unit and source: see the provenance table.",
        ),
        (
            "3.4",
            "Assumptions",
            f"{len(assumptions)} parameters are stated assumptions with reasons ({', '.join(assumptions) if assumptions else 'none'}). "
            "Structural: proportional hazards for treatment effects and covariates; the three death clocks are independent given "
            "the patient's traits and state; "
            + (
                "no capacity constraints."
                if scenario.capacity is None
                else "capacity constraints as in 2.5.3-2.5.4; progression while waiting is memoryless (natural history)."
            ),
        ),
        ("4.1", "Initialisation", _initialisation(scenario)),
        ("4.2", "Run length", f"{scenario.horizon_months:g} months per patient; {replications}"),
        (
            "4.3",
            "Estimation approach",
            "Each replication is a new cohort; metrics are computed per replication and summarised across replications (t-based "
            "95% CI). Curves (Kaplan-Meier, state occupancy, symptom control) pool all replications. The confidence-interval "
            f"method (Robinson 2014) is available with --precision (default metrics {', '.join(DEFAULT_PRECISION_METRICS)}).",
        ),
        (
            "5.1",
            "Software or programming language",
            f"Python {context['python']}; nelm-sim {versions.get('nelm-sim', '?')}; SimPy {versions.get('simpy', '?')}, numpy "
            f"{versions.get('numpy', '?')}, pandas {versions.get('pandas', '?')}, lifelines {versions.get('lifelines', '?')}, "
            f"matplotlib {versions.get('matplotlib', '?')}.",
        ),
        (
            "5.2",
            "Random sampling",
            f"Master seed {scenario.seed}. Each random purpose has its own stream keyed by (seed, replication, patient, purpose) "
            "through numpy SeedSequence and CRC32, so the same patient gets the same draws in every strategy (common random "
            "numbers) and adding a purpose never shifts another.",
        ),
        (
            "5.3",
            "Model execution",
            "Process-based discrete-event simulation (SimPy), one generator per patient; strategies and replications run one "
            "after the other in a single process.",
        ),
        ("5.4", "System specification", f"{context['platform']}."),
        (
            "6.1",
            "Computer model sharing statement",
            f"nelm-sim is open source. Scenario file {prepared.path} (SHA-256 {context['scenario_sha256'][:16]}...). The scenario "
            "as run (after command-line overrides) is saved beside this report as scenario.resolved.yaml; "
            f"`nelm-sim compare scenario.resolved.yaml --comparator {comparison.comparator}{precision_flag}` reproduces these results.",
        ),
    ]


def _capacity_items(scenario) -> list[tuple[str, str, str]]:
    """STRESS-DES 2.5.3-2.5.5: resources, queues, entry and exit (README "Capacity planning")."""
    capacity = scenario.capacity
    configured = capacity.resources.configured() if capacity is not None else {}
    if not configured:
        resources = "None: operating theatres, beds and staff are not constrained (no capacity section in this scenario)."
        queues = "None: without resource constraints no patient waits for a treatment."
    else:
        resources = (
            "SimPy priority resources with weekly opening sessions: "
            + "; ".join(
                f"{name} x{cfg.capacity}" + (f", open {sum(s.hours for s in cfg.schedule):g} h a week" if cfg.schedule else ", always open")
                for name, cfg in configured.items()
            )
            + ". Unlisted resources are unlimited."
        )
        queues = (
            "Priority 0 (treatment under way: later sessions, cycles, injections) before 1 (new decision or treatment), first "
            "come first served within a priority, no pre-emption. While waiting for an MDT slot or a new treatment the disease "
            "clock runs (death, progression, loss of resectability); a patient no longer eligible leaves the queue."
        )
    arrivals = capacity.arrivals if capacity is not None else None
    if arrivals is None:
        entry = (
            f"All patients enter at time 0 (a closed cohort); they leave at death or at the horizon of {scenario.horizon_months:g} months."
        )
    else:
        entry = (
            f"Poisson arrivals from a catchment of {numbers.count(arrivals.catchment_population)} people (arrivals.* parameters), over "
            f"{arrivals.warmup_years:g} + {arrivals.years:g} years; each patient leaves at death or {scenario.horizon_months:g} months after arrival."
        )
    return [
        ("2.5.3", "Components - resources", resources),
        ("2.5.4", "Components - queues", queues),
        ("2.5.5", "Components - entry and exit points", entry),
    ]


def _initialisation(scenario) -> str:
    arrivals = scenario.capacity.arrivals if scenario.capacity is not None else None
    if arrivals is None:
        return "No warm-up: a terminating simulation of a closed cohort that starts empty at time 0."
    return (
        f"A warm-up of {arrivals.warmup_years:g} years: the hospital starts empty and the patients arriving in it are left out of "
        "every statistic."
    )
