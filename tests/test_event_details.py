"""The event log's details have one grammar (core/events.py): what the modalities write reads back, and a
misspelt or unreadable field is an error wherever it is read (hospital, valuation), never a silent 0."""

from __future__ import annotations

import pytest

from simulator.core.events import (
    AdverseEventDetail,
    DetailError,
    ProcedureDetail,
    adverse_event_detail,
    parse_adverse_event_detail,
    parse_procedure_detail,
    procedure_detail,
    waiting_detail,
    waiting_resource,
)
from simulator.economics.valuation import value_patients

from .test_economics_valuation import build_log, params, settings


@pytest.mark.parametrize(
    "fields,text",
    [
        (
            {"extent": "major", "ablation": False, "minutes": 418.0, "los_days": 7.0},
            "hepatectomy;extent=major;ablation=0;minutes=418;los_days=7",
        ),
        ({"session": 2, "los_days": 1.5}, "hepatectomy;session=2;los_days=1.5"),
        ({"cycle": 3}, "hepatectomy;cycle=3"),
        ({}, "hepatectomy"),
    ],
)
def test_procedure_details_are_written_as_before_and_read_back(fields, text):
    assert procedure_detail("hepatectomy", **fields) == text
    assert parse_procedure_detail(text) == ProcedureDetail("hepatectomy", **fields)


@pytest.mark.parametrize(
    "text,problem",
    [
        ("hepatectomy;minute=300", "unknown field"),
        ("hepatectomy;los_days", "unknown field"),
        ("hepatectomy;los_days=seven", "unreadable"),
        ("tae;session=1;session=2", "twice"),
        ("hepatectomy;ablation=yes", "unreadable"),
        ("", "kind first"),
    ],
)
def test_a_malformed_procedure_detail_is_an_error(text, problem):
    with pytest.raises(DetailError, match=problem):
        parse_procedure_detail(text)


def test_adverse_event_and_waiting_details():
    assert adverse_event_detail("morbidity", "ablation") == "ablation:morbidity"
    assert parse_adverse_event_detail("ablation:morbidity") == AdverseEventDetail("morbidity", "ablation")
    assert parse_adverse_event_detail("carcinoid_crisis") == AdverseEventDetail("carcinoid_crisis")
    for bad in ("a:b:c", ":x", "x:", ""):
        with pytest.raises(DetailError):
            parse_adverse_event_detail(bad)
    assert waiting_resource(waiting_detail("theatre")) == "theatre"
    assert waiting_resource("tace") is None


def test_the_valuation_refuses_a_misspelt_field_instead_of_costing_it_as_zero():
    log, table = build_log([[(0.0, "entry", "untreated", ""), (0.0, "procedure", "surgery", "hepatectomy;minutes=300;los_day=6")]])
    with pytest.raises(DetailError, match="los_day=6"):
        value_patients(log, table, params(), settings(0.0))
