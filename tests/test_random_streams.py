"""Named streams: stable keys, independence of purposes, common random numbers across strategies."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from simulator.api import run_scenario
from simulator.config import Scenario
from simulator.core.rng import CHUNK, SLOTS, RandomStreams, stable_key

from .conftest import tiny_scenario


def test_stable_key_is_crc32_not_hash():
    assert stable_key("hepatectomy.perioperative_death") == zlib.crc32(b"hepatectomy.perioperative_death")
    assert stable_key("a.b") == stable_key("a.b")
    assert stable_key("a.b") != stable_key("a.c")


def test_draws_depend_only_on_coordinates():
    a = RandomStreams(11, 0).for_patient(300)
    b = RandomStreams(11, 0).for_patient(300)
    # b consumes another purpose first: a's draws must not move.
    b.uniform("something.else")
    b.uniform("something.else")
    assert [a.uniform("x.y") for _ in range(SLOTS + 5)] == [b.uniform("x.y") for _ in range(SLOTS + 5)]


def test_different_patients_replications_and_purposes_differ():
    streams = RandomStreams(11, 0)
    values = {
        streams.for_patient(0).uniform("x.y"),
        streams.for_patient(1).uniform("x.y"),
        streams.for_patient(CHUNK).uniform("x.y"),
        streams.for_patient(0).uniform("x.z"),
        RandomStreams(11, 1).for_patient(0).uniform("x.y"),
        RandomStreams(12, 0).for_patient(0).uniform("x.y"),
    }
    assert len(values) == 6


def test_overflow_beyond_block_is_reproducible_and_uniform():
    draws = [RandomStreams(5, 0).for_patient(3) for _ in range(2)]
    first = [draws[0].uniform("long.history") for _ in range(500)]
    second = [draws[1].uniform("long.history") for _ in range(500)]
    assert first == second
    assert len(set(first)) == 500
    # A crude check that overflow draws are not degenerate: mean of 500 U(0,1) within 4 SE of 0.5.
    assert abs(np.mean(first) - 0.5) < 4 * (1 / np.sqrt(12 * 500))


def test_overflow_draws_are_shared_by_the_strategies_and_dropped_with_their_chunk():
    """The strategies of one replication reuse a patient's overflow refills (one generator set-up,
    the same numbers as a fresh stream), and releasing the patient's chunk forgets them."""
    streams = RandomStreams(5, 0)
    patient = CHUNK + 3  # second chunk
    one = streams.for_patient(patient)
    two = streams.for_patient(patient)
    a = [one.uniform("long.history") for _ in range(SLOTS + 70)]
    b = [two.uniform("long.history") for _ in range(SLOTS + 70)]
    fresh = RandomStreams(5, 0).for_patient(patient)
    assert a == b == [fresh.uniform("long.history") for _ in range(SLOTS + 70)]
    assert {key[1:] for key in streams._overflows} == {(patient, 0), (patient, 1)}
    streams.release_chunk(0)
    assert len(streams._overflows) == 2
    streams.release_chunk(1)
    assert streams._overflows == {}


def test_common_random_numbers_until_strategies_differ():
    """Two strategies identical except for a rule that only applies from month T: every patient's
    event history before T is identical."""
    T = 24.0
    base_rules = [
        {"treatment": "octreotide_lar", "max_uses": 1},
        {"treatment": "everolimus", "max_uses": 1},
    ]
    late_prrt = [{"treatment": "prrt", "when": {"min_months": T}, "max_uses": 1}, *base_rules]
    scenario = Scenario.model_validate(
        tiny_scenario(
            cohort={"size": 400},
            horizon_months=120,
            strategies=[{"name": "plain", "rules": base_rules}, {"name": "prrt-after-T", "rules": late_prrt}],
        )
    )
    events = run_scenario(scenario).result.events
    before = events[events["time"] < T]
    columns = ["patient_id", "time", "event", "from_state", "to_state", "detail"]
    plain = before[before["strategy"] == "plain"][columns].reset_index(drop=True)
    other = before[before["strategy"] == "prrt-after-T"][columns].reset_index(drop=True)
    assert len(plain) > 1000
    pd.testing.assert_frame_equal(plain.astype(str), other.astype(str))
    after = events[events["time"] >= T]
    assert (
        not after[after["strategy"] == "plain"][columns]
        .reset_index(drop=True)
        .astype(str)
        .equals(after[after["strategy"] == "prrt-after-T"][columns].reset_index(drop=True).astype(str))
    ), "the strategies should differ after T"


def test_a_normal_draw_is_the_inverse_cdf_of_the_same_purposes_uniform():
    from scipy.special import ndtri

    from simulator.core.rng import RandomStreams

    uniforms = RandomStreams(7, 0).for_patient(3)
    normals = RandomStreams(7, 0).for_patient(3)
    for _ in range(12):  # past the block into the overflow generator
        assert normals.normal("tumour.line_growth") == float(ndtri(uniforms.uniform("tumour.line_growth")))


def test_streams_shared_between_runs_give_what_fresh_streams_give():
    """A process keeps the streams of its last small cohort (experiments/runner.py); whoever used them
    before, a run reads the numbers fresh streams would give, and no run can change them."""
    from simulator.experiments import runner

    prepared = runner.prepare(Scenario.model_validate(tiny_scenario(cohort={"size": 40})), "tiny.yaml")
    runner._shared_streams.cache_clear()
    fresh_events, fresh_patients = runner.run_strategy(prepared, 0, 1)
    for strategy in (0, 1, 0):  # the streams now hold what both strategies drew, in another order
        events, patients = runner.run_strategy(prepared, 0, strategy)
    shared = runner.replication_streams(prepared, 0, 0)
    assert shared is runner.replication_streams(prepared, 0, 0)
    events, patients = runner.run_strategy(prepared, 0, 1)
    pd.testing.assert_frame_equal(events, fresh_events)
    pd.testing.assert_frame_equal(patients, fresh_patients)
    block = shared.block("x.y", 0)
    assert not block.flags.writeable
    larger = runner.prepare(Scenario.model_validate(tiny_scenario(cohort={"size": runner.SHARED_STREAMS_MAX_PATIENTS + 1})), "tiny.yaml")
    assert runner.replication_streams(larger, 0, 0) is not runner.replication_streams(larger, 0, 0)
