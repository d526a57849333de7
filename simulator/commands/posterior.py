"""`nelm-sim calibrate --posterior`: the joint posterior of the calibrated parameters given the targets
and their published uncertainty (history matching with Gaussian-process emulators, then IMIS;
docs/calibration.md, "Bayesian calibration").

Writes the posterior sample into the parameter library (``params/posterior.csv`` and its provenance,
``params/posterior.yaml``) and the diagnostics into ``--out``: posterior_summary.csv,
posterior_predictive.csv, posterior_design.csv, posterior_diagnostics.json and posterior_pairs.png.
"""

from __future__ import annotations

import datetime
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..errors import UserInputError
from ..experiments import calibrate as calibration
from ..experiments import history_matching
from ..experiments import posterior as bayes
from ..experiments.execution import SERIAL, Execution
from ..io import atomic_folder, check_destination, write_file_atomic, write_json
from .output import CALIBRATION_FLOAT_FORMAT, OUTPUT_ROOT, csv_text, write_csv

# Defaults sized for 2 hours on 2 cores (docs/calibration.md): 500 patients per arm per evaluation
# (Monte Carlo SE of a landmark about 2.2 points; above the published SE of 3 of the 27 targets, which
# the likelihood's Monte Carlo variance term absorbs: it widens their intervals, it does not bias them),
# 10 design points per parameter and wave (Loeppky, Sacks & Welch 2009's rule of thumb for GP
# emulators), 3 waves. 1,000 patients per arm would double the simulations' share of the wall time.
DEFAULT_PATIENTS = 500
DEFAULT_DESIGN_POINTS = 220
DEFAULT_WAVES = 3
DEFAULT_SAMPLES = 1000
DEFAULT_PRIOR_DRAWS = 20_000
DEFAULT_SEED = 20170117  # fixed so that a rerun draws the same design and the same posterior sample
# IMIS keeps adding components until the importance sample is worth twice the draws it resamples.
ESS_PER_SAMPLE = 2
MIN_POSTERIOR_SAMPLES = 1000  # the PSA takes one posterior draw per PSA draw (issue 17)
MAX_DESIGN_POINTS = 5000  # a GP's fit costs the cube of its design; 5,000 points is hours per output
MIN_DESIGN_POINTS = 4  # fewer points than that cannot fit a GP's length scales at all
MAX_WAVES = 20  # each wave refits every emulator on all runs so far; Andrianakis et al. 2015 needed 10
MAX_POSTERIOR_SAMPLES = 1_000_000  # the sample is held in memory and written as one CSV
MIN_PRIOR_DRAWS = 100  # IMIS's components take a tenth of them each, and need more points than dimensions
MAX_PRIOR_DRAWS = 1_000_000  # each IMIS step keeps a density per draw; a million is some 100 MB per array


def library_folder() -> Path:
    return Path(str(resources.files("simulator.params")))


def check_options(patients: int, design_points: int, waves: int, samples: int, prior_draws: int) -> None:
    for option, value, low, high in (
        ("--posterior-patients", patients, 1, None),
        ("--design-points", design_points, MIN_DESIGN_POINTS, MAX_DESIGN_POINTS),
        ("--waves", waves, 1, MAX_WAVES),
        ("--posterior-samples", samples, MIN_POSTERIOR_SAMPLES, MAX_POSTERIOR_SAMPLES),
        ("--prior-draws", prior_draws, MIN_PRIOR_DRAWS, MAX_PRIOR_DRAWS),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            expected = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise UserInputError(f"{option}: expected a whole number {expected}, got {value}")


def posterior_file(
    seed_folder: Path | None = None,
    out: Path | None = None,
    patients: int = DEFAULT_PATIENTS,
    design_points: int = DEFAULT_DESIGN_POINTS,
    waves: int = DEFAULT_WAVES,
    samples: int = DEFAULT_SAMPLES,
    prior_draws: int = DEFAULT_PRIOR_DRAWS,
    seed: int = DEFAULT_SEED,
    force: bool = False,
    execution: Execution = SERIAL,
    report=print,
    library: Path | None = None,
) -> tuple[Path, dict]:
    """Options, seed scenarios and destination checked before any simulation; then the calibration,
    the sample saved into the library and the diagnostics into ``out`` (default outputs/posterior).
    Returns (the diagnostics folder, the diagnostics)."""
    check_options(patients, design_points, waves, samples, prior_draws)
    seed_folder = seed_folder if seed_folder is not None else calibration.default_seed_folder()
    seeds = calibration.check_options(seed_folder, None, patients, fit_option="--posterior-patients")
    destination = Path(out) if out is not None else OUTPUT_ROOT / "posterior"
    check_destination(destination, force)
    library = Path(library) if library is not None else library_folder()
    if not library.is_dir():
        raise UserInputError(f"--library-dir: expected an existing folder, got {library}")
    started = time.perf_counter()
    prob = bayes.problem(patients)
    settings = history_matching.Settings(design_points, waves, samples, prior_draws, seed, samples * ESS_PER_SAMPLE)
    result = bayes.run(prob, seeds, settings, execution, report)
    rng = np.random.default_rng(seed + 1)
    low, high = history_matching.predictive_interval(result.emulators, result.samples, prob.fixed_variance, rng)
    wall = time.perf_counter() - started
    predictive = pd.DataFrame(
        {
            "target": [t.id for t in prob.targets],
            "published": [t.published for t in prob.targets],
            "predictive_lower_95": [float(bayes.from_scale(t, np.array(v))) for t, v in zip(prob.targets, low)],
            "predictive_upper_95": [float(bayes.from_scale(t, np.array(v))) for t, v in zip(prob.targets, high)],
            "published_se_on_scale": np.sqrt(prob.observation_variance),
            "monte_carlo_se_on_scale": np.sqrt(prob.monte_carlo_variance),
        }
    )
    predictive["inside"] = (predictive["published"] >= predictive["predictive_lower_95"]) & (
        predictive["published"] <= predictive["predictive_upper_95"]
    )
    names = prob.names()
    values = np.exp(result.samples)
    summary = pd.DataFrame(
        {
            "parameter": names,
            "calibrated": np.exp(bayes.calibrated_point(prob)),
            "posterior_mean": values.mean(axis=0),
            "posterior_sd": values.std(axis=0, ddof=1),
            "posterior_2.5%": np.quantile(values, 0.025, axis=0),
            "posterior_97.5%": np.quantile(values, 0.975, axis=0),
            "lower_bound": np.exp(prob.lower),
            "upper_bound": np.exp(prob.upper),
        }
    )
    design = pd.DataFrame(np.exp(result.design), columns=names)
    design.insert(0, "wave", result.wave_of_run + 1)
    for column, target in enumerate(prob.targets):
        design[target.id] = bayes.from_scale(target, result.outputs[:, column])
    diagnostics = {
        "method": "history matching with Gaussian-process emulators (Andrianakis et al. 2015), then IMIS on the emulated likelihood (Raftery & Bao 2010)",
        "effective_sample_size": result.ess,
        "posterior_predictive_coverage": float(predictive["inside"].mean()),
        "targets_inside_95_predictive": int(predictive["inside"].sum()),
        "targets": len(prob.targets),
        "non_implausible_share_by_wave": list(result.non_implausible_share),
        "simulator_runs": int(len(result.design)),
        "patients_per_arm_per_evaluation": patients,
        "design_points_per_wave": design_points,
        "waves": waves,
        "posterior_samples": samples,
        "prior_draws": prior_draws,
        "seed": seed,
        "workers": execution.workers,
        "executor": execution.executor,
        "wall_seconds": wall,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    from ..reporting.posterior_figures import pair_plot
    from ..reporting.style import plt

    figure = pair_plot(result.samples, names, prob.lower, prob.upper)
    with atomic_folder(destination, force) as staging:
        write_csv(summary, staging / "posterior_summary.csv", CALIBRATION_FLOAT_FORMAT)
        write_csv(predictive, staging / "posterior_predictive.csv", CALIBRATION_FLOAT_FORMAT)
        write_csv(design, staging / "posterior_design.csv", CALIBRATION_FLOAT_FORMAT)
        write_json(staging / "posterior_diagnostics.json", diagnostics)
        figure.savefig(staging / "posterior_pairs.png")
    plt.close(figure)
    save_posterior(library, names, values, prob, diagnostics)
    return destination, diagnostics


def save_posterior(library: Path, names: list[str], values: np.ndarray, prob: bayes.Problem, diagnostics: dict) -> Path:
    """posterior.csv (one row per draw, equally weighted: IMIS's resample) and posterior.yaml (provenance)."""
    sample = pd.DataFrame(values, columns=names)
    sample.insert(0, "draw", np.arange(1, len(sample) + 1))
    header = {
        "description": "Posterior sample of the calibrated parameters (nelm-sim calibrate --posterior); one row per draw, equally weighted",
        "sample": "posterior.csv",
        "parameters": names,
        "targets": {
            t.id: {"published": t.published, "se_on_comparison_scale": float(np.sqrt(v))}
            for t, v in zip(prob.targets, prob.observation_variance)
        },
        "prior": "uniform on the log of each parameter between the bounds of calibration_targets.yaml's blocks (assumption: no source gives a prior)",
        **{
            key: diagnostics[key]
            for key in (
                "method",
                "seed",
                "date",
                "patients_per_arm_per_evaluation",
                "design_points_per_wave",
                "waves",
                "simulator_runs",
                "effective_sample_size",
                "posterior_predictive_coverage",
                "wall_seconds",
            )
        },
    }
    write_file_atomic(library / "posterior.csv", csv_text(sample, CALIBRATION_FLOAT_FORMAT))
    path = library / "posterior.yaml"
    write_file_atomic(
        path, "# Written by `nelm-sim calibrate --posterior` (docs/calibration.md).\n" + yaml.safe_dump(header, sort_keys=False)
    )
    return path
