"""Scenario fuzzing: malformed and adversarial scenario files get one clear line, exit status 2,
no traceback and no output folder.

Each generated file is a valid base scenario with one adversarial change (sometimes a second one):
wrong types, missing and extra keys, huge numbers, NaN and infinity, zero or negative sizes and
durations, probabilities outside [0, 1], cohort shares summing above 1, empty strategies, unknown
treatments, attributes and strategies, rules that can never fire, unicode, deep nesting, YAML
anchors and aliases (billion laughs), YAML tags that try to construct Python objects, random text
and bytes. Files are checked in-process through ``simulator.cli.main`` (a subprocess per file
would take an hour); a handful of subprocess runs prove that nothing reaches stderr but one line.

Files that may still be valid (random values, extreme distribution parameters) are checked with
``nelm-sim validate`` and, when valid, simulated with 3 patients and 1 replication: the run must
finish or stop with a one-line error, never crash.
"""

from __future__ import annotations

import copy
import hashlib
import math
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.api import run_scenario
from simulator.cli import main
from simulator.config import (
    MAX_HORIZON_MONTHS,
    MAX_PATIENTS,
    MAX_REPLICATIONS,
    MAX_SUMMARY_LIFETIMES,
    CohortConfig,
    Rule,
    RuleCondition,
    Scenario,
    StrategyConfig,
    load_scenario,
)
from simulator.errors import UserInputError
from simulator.params.distributions import FAMILIES
from simulator.params.parameter_set import load_library
from simulator.pathways import MODALITIES

BASE: dict = {
    "name": "fuzz",
    "description": "fuzzed scenario",
    "seed": 11,
    "replications": 1,
    "cohort": {"size": 3, "mix": {"functional": 0.5}},
    "horizon_months": 60,
    "strategies": [
        "surgery-first",
        {
            "name": "mine",
            "telotristat": True,
            "rules": [
                {"treatment": "octreotide_lar", "max_uses": 1, "when": {"grade": ["G1", "G2"], "min_line": 1}},
                {"treatment": "tace", "when": {"extrahepatic": False}},
            ],
        },
    ],
    "parameters": {
        "hepatectomy.perioperative_mortality": 0.02,
        "tace.time_to_progression": {"distribution": "weibull", "params": {"shape": 1.2, "median": 14}},
    },
}
RULE = ("strategies", 1, "rules", 0)
WHEN = (*RULE, "when")

# (path, kind) of every typed field of the base scenario.
TYPED_PATHS = [
    (("name",), "str"),
    (("description",), "str"),
    (("seed",), "int"),
    (("replications",), "int"),
    (("cohort",), "dict"),
    (("cohort", "size"), "int"),
    (("cohort", "age"), "float"),
    (("cohort", "mix"), "dict"),
    (("cohort", "mix", "functional"), "float"),
    (("horizon_months",), "float"),
    (("strategies",), "list"),
    (("strategies", 0), "str_or_dict"),
    (("strategies", 1, "name"), "str"),
    (("strategies", 1, "telotristat"), "bool"),
    (("strategies", 1, "rules"), "list"),
    ((*RULE, "treatment"), "str"),
    ((*RULE, "max_uses"), "int"),
    (WHEN, "dict"),
    ((*WHEN, "extrahepatic"), "bool"),
    ((*WHEN, "functional"), "bool"),
    ((*WHEN, "min_line"), "int"),
    ((*WHEN, "grade"), "one_or_many"),
    ((*WHEN, "after"), "one_or_many"),
    ((*WHEN, "min_months"), "float"),
    (("parameters",), "dict"),
    (("parameters", "hepatectomy.perioperative_mortality"), "float"),
]
REQUIRED_PATHS = [
    ("name",),
    ("seed",),
    ("cohort",),
    ("strategies",),
    ("cohort", "size"),
    ("strategies", 1, "name"),
    (*RULE, "treatment"),
]
MODEL_AT = {(): Scenario, ("cohort",): CohortConfig, ("strategies", 1): StrategyConfig, RULE: Rule, WHEN: RuleCondition}
LIBRARY = load_library()
PROBABILITIES = sorted(
    n for n, (e, _) in LIBRARY.items() if e.value is not None and e.unit in ("probability", "proportion") and not n.startswith("cohort.")
)
COHORT_SHARES = sorted(
    n.removeprefix("cohort.") for n, (e, _) in LIBRARY.items() if n.startswith("cohort.") and e.unit in ("probability", "proportion")
)
DISTRIBUTIONS = [
    "tace.time_to_progression",
    "natural_history.time_to_progression",
    "hepatectomy.time_to_recurrence",
    "octreotide_lar.symptom_control_duration",
]
TREATMENTS = sorted(MODALITIES)
ALWAYS_TAKEN = ["best_supportive_care", "surveillance", "tae", "tace", "y90", "everolimus", "captem", "placebo"]
TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/apply:subprocess.call [['touch', '{marker}']]",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:pathlib.Path {{}}",
    "!!binary aGVsbG8=",
    "!!set {{a, b}}",
    "!!omap [a: 1]",
    "!!timestamp 2001-12-14",
    "!!str text",
    "!!int 3",
    "!!float 1.5",
    "!custom value",
    "! plain",
    "!<tag:yaml.org,2002:str> text",
]

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
plain_name = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), text)
values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)), max_leaves=12
)
not_a_whole_number = st.one_of(text, st.booleans(), st.floats(), st.lists(scalars, max_size=3), st.dictionaries(text, scalars, max_size=3))
WRONG = {
    "int": not_a_whole_number,
    "float": st.one_of(text, st.booleans(), st.lists(scalars, max_size=3), st.dictionaries(text, scalars, max_size=3)),
    "str": st.one_of(
        st.integers(), st.floats(), st.booleans(), st.lists(scalars, min_size=1, max_size=3), st.dictionaries(text, scalars, max_size=3)
    ),
    "bool": st.one_of(st.integers(), st.floats(), text, st.lists(scalars, max_size=3), st.dictionaries(text, scalars, max_size=3)),
    "list": st.one_of(st.integers(), st.floats(), st.booleans(), st.dictionaries(text, scalars, max_size=3)),
    "one_or_many": st.one_of(st.integers(), st.floats(), st.booleans(), st.dictionaries(text, scalars, max_size=3)),
    "dict": st.one_of(st.integers(), st.floats(), st.booleans(), text, st.lists(scalars, max_size=3)),
    "str_or_dict": st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(scalars, max_size=3)),
}


@dataclass
class Case:
    kind: str
    doc: dict | None = None  # dumped to YAML unless ``raw`` is given
    raw: str | bytes | None = None
    field: str | None = None  # expected field path in the message (None: do not check)
    words: str | None = None  # expected words in the message
    expect: str = "error"  # error | maybe (may be valid) | warn (valid, with warnings)
    combined: bool = False  # a second defect was added: only the one-line contract is checked


def location(path: tuple) -> str:
    out = ""
    for item in path:
        out += f"[{item}]" if isinstance(item, int) else (("." if out else "") + str(item))
    return out


def set_at(doc, path, value):
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def delete_at(doc, path):
    for key in path[:-1]:
        doc = doc[key]
    del doc[path[-1]]


@st.composite
def base_documents(draw) -> dict:
    """The base scenario with harmless variation, so that (almost) every generated file differs."""
    doc = copy.deepcopy(BASE)
    doc["seed"] = draw(st.integers(0, 2**32))
    doc["description"] = draw(text)
    doc["cohort"]["size"] = draw(st.integers(1, 4))
    doc["horizon_months"] = draw(st.floats(1, 240))
    doc["replications"] = draw(st.integers(1, 3))
    doc["name"] = draw(plain_name)
    return doc


KINDS = (
    "wrong_type",
    "missing",
    "extra_key",
    "huge",
    "non_finite",
    "non_positive",
    "probability",
    "mix_sum",
    "empty",
    "unknown_reference",
    "duplicate",
    "never_fires",
    "unicode",
    "deep",
    "bomb",
    "tag",
    "garbage",
    "top_level",
    "total_work",
    "random_value",
    "distribution",
    "extreme_values",
)


@st.composite
def cases(draw, marker: str, kind: str) -> Case:
    doc = draw(base_documents())
    if kind == "wrong_type":
        path, typ = draw(st.sampled_from(TYPED_PATHS))
        set_at(doc, path, draw(WRONG[typ]))
        return Case(kind, doc, field=location(path))
    if kind == "missing":
        path = draw(st.sampled_from(REQUIRED_PATHS))
        delete_at(doc, path)
        return Case(kind, doc, field=location(path) if path != ("cohort",) else "cohort", words="required")
    if kind == "extra_key":
        where = draw(st.sampled_from(sorted(MODEL_AT, key=len)))
        key = draw(text.filter(lambda k: k not in MODEL_AT[where].model_fields and k != "<<"))
        target = doc
        for part in where:
            target = target[part]
        target[key] = draw(st.one_of(scalars, st.lists(scalars, max_size=3)))
        return Case(kind, doc, field=location(where) or None, words="unknown key")
    if kind == "huge":
        path, value = draw(
            st.sampled_from(
                [
                    (("seed",), st.integers(2**63, 2**200)),
                    (("replications",), st.integers(MAX_REPLICATIONS + 1, 10**30)),
                    (("cohort", "size"), st.integers(MAX_PATIENTS + 1, 10**30)),
                    (("horizon_months",), st.floats(MAX_HORIZON_MONTHS * 1.0001, 1e308)),
                    ((*RULE, "max_uses"), st.integers(51, 10**30)),
                    ((*WHEN, "min_line"), st.integers(51, 10**30)),
                    (("parameters", "hepatectomy.perioperative_mortality"), st.one_of(st.floats(1.0001, 1e308), st.integers(2, 10**400))),
                    (("parameters", "disease.hr_extrahepatic"), st.floats(1000.001, 1e308)),
                    (("parameters", "prrt.cycles"), st.integers(101, 10**30)),
                ]
            )
        )
        set_at(doc, path, draw(value))
        return Case(kind, doc, field=location(path))
    if kind == "non_finite":
        value = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        path = draw(
            st.sampled_from(
                [
                    ("horizon_months",),
                    ("cohort", "age"),
                    ("cohort", "mix", "functional"),
                    ("parameters", "hepatectomy.perioperative_mortality"),
                    (*WHEN, "min_months"),
                    ("parameters", "tace.time_to_progression", "params", "median"),
                    ("parameters", "tace.time_to_progression", "params", "shape"),
                ]
            )
        )
        set_at(doc, path, value)
        return Case(kind, doc, field=location(path[:2]) if path[0] == "parameters" else location(path))
    if kind == "non_positive":
        path, value = draw(
            st.sampled_from(
                [
                    (("horizon_months",), st.floats(-1e308, 0)),
                    (("cohort", "size"), st.integers(-(10**20), 0)),
                    (("replications",), st.integers(-(10**20), 0)),
                    ((*RULE, "max_uses"), st.integers(-100, 0)),
                    ((*WHEN, "min_line"), st.integers(-100, 0)),
                    ((*WHEN, "min_months"), st.floats(-1e308, -1e-300)),
                    (("cohort", "age"), st.floats(-1e308, 17.99)),
                    (("seed",), st.integers(-(2**80), -1)),
                    (("parameters", "hepatectomy.length_of_stay_major_days"), st.floats(-1e308, -1e-300)),
                    (("parameters", "tace.time_to_progression", "params", "median"), st.floats(-1e308, 0)),
                    (("parameters", "tace.time_to_progression", "params", "shape"), st.floats(-1e308, 0)),
                ]
            )
        )
        set_at(doc, path, draw(value))
        return Case(kind, doc, field=location(path[:2]) if path[0] == "parameters" else location(path))
    if kind == "probability":
        outside = st.one_of(st.floats(-1e300, -1e-9), st.floats(1 + 1e-9, 1e300))
        if draw(st.booleans()):
            name = draw(st.sampled_from(PROBABILITIES))
            doc["parameters"][name] = draw(outside)
            return Case(kind, doc, field=f"parameters.{name}")
        share = draw(st.sampled_from(COHORT_SHARES))
        doc["cohort"]["mix"][share] = draw(outside)
        return Case(kind, doc, field=f"cohort.mix.{share}")
    if kind == "mix_sum":
        first, second = draw(
            st.sampled_from([("primary_pancreas", "primary_small_bowel"), ("grade_g2", "grade_g3"), ("burden_25to50", "burden_gt50")])
        )
        a = draw(st.floats(0.5, 1))
        b = min(1.0, 1.0 - a + draw(st.floats(1e-6, 0.5)))
        doc["cohort"]["mix"].update({first: a, second: b})
        return Case(kind, doc, field="cohort.mix", words="sum to at most 1")
    if kind == "empty":
        path, value, field = draw(
            st.sampled_from(
                [
                    (("strategies",), [], "strategies"),
                    (("strategies", 1, "rules"), [], "strategies[1].rules"),
                    (("name",), "", "name"),
                    (("cohort",), {}, "cohort.size"),
                    (("strategies", 1, "name"), "", "strategies[1].name"),
                ]
            )
        )
        set_at(doc, path, value)
        return Case(kind, doc, field=field)
    if kind == "unknown_reference":
        choice = draw(st.sampled_from(["treatment", "after", "grade", "sex", "strategy"]))
        if choice == "treatment":
            set_at(doc, (*RULE, "treatment"), draw(text.filter(lambda t: t not in MODALITIES)))
            return Case(kind, doc, field=location((*RULE, "treatment")), words="one of")
        if choice == "after":
            set_at(doc, (*WHEN, "after"), [draw(st.sampled_from(TREATMENTS)), draw(text.filter(lambda t: t not in MODALITIES))])
            return Case(kind, doc, field=location((*WHEN, "after")) + "[1]", words="one of")
        if choice == "grade":
            set_at(doc, (*WHEN, "grade"), ["G1", draw(text.filter(lambda t: t not in ("G1", "G2", "G3")))])
            return Case(kind, doc, field=location((*WHEN, "grade")) + "[1]", words="one of")
        if choice == "sex":
            set_at(doc, (*WHEN, "sex"), draw(text.filter(lambda t: t not in ("male", "female"))))
            return Case(kind, doc, field=location((*WHEN, "sex")), words="one of")
        doc["strategies"][0] = draw(
            plain_name.filter(
                lambda n: (
                    n not in ("surgery-first", "iat-first", "systemic-first", "watch-and-wait", "guideline", "best-supportive-care", "mine")
                )
            )
        )
        return Case(kind, doc, field="strategies[0].name", words="bundled strategy")
    if kind == "duplicate":
        doc["strategies"].append(draw(st.sampled_from(["surgery-first", {"name": "mine", "rules": [{"treatment": "placebo"}]}])))
        return Case(kind, doc, field="strategies[2].name", words="not used before")
    if kind == "never_fires":
        rules = doc["strategies"][1]["rules"]
        choice = draw(st.sampled_from(["shadowed", "line", "after"]))
        if choice == "shadowed":
            rules.insert(0, {"treatment": draw(st.sampled_from(ALWAYS_TAKEN))})
            return Case(kind, doc, field="strategies[1].rules[1]", words="never fires", expect="warn")
        if choice == "line":
            rules[0]["when"].update({"line": draw(st.integers(1, 10)), "min_line": 11})
        else:
            rules[0]["when"].update({"after": ["tace"], "not_after": ["tace"]})
        return Case(kind, doc, field="strategies[1].rules[0]", words="never fires", expect="warn")
    if kind == "unicode":
        choice = draw(st.sampled_from(["name", "strategy", "description", "key"]))
        weird = st.text(alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0x80), min_size=1, max_size=20)
        if choice == "name":
            doc["name"] = draw(st.tuples(plain_name, weird).map("".join))
            return Case(kind, doc, field="name", words="letters, digits")
        if choice == "strategy":
            doc["strategies"][1]["name"] = draw(weird)
            return Case(kind, doc, field="strategies[1].name")
        if choice == "description":
            doc["description"] = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
            return Case(kind, doc, expect="maybe")
        doc[draw(weird)] = draw(values)
        return Case(kind, doc, words="unknown key")
    if kind == "deep":
        depth = draw(st.integers(21, 5000))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
        doc["description"] = "PAYLOAD"
        raw = yaml.safe_dump(doc, sort_keys=False).replace("PAYLOAD", opener * depth + "1" + closer * depth)
        return Case(kind, raw=raw, words="nesting deeper than 20")
    if kind == "bomb":
        levels, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
        lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
        lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
        if draw(st.booleans()):
            lines.append(f"merged: {{<<: *l{levels - 1}}}")
        raw = "\n".join(lines) + "\n" + yaml.safe_dump(doc, sort_keys=False)
        return Case(kind, raw=raw, words="anchors and aliases")
    if kind == "tag":
        tag = draw(st.sampled_from(TAGS)).format(marker=marker)
        where = draw(st.sampled_from(["value", "document", "key", "directive"]))
        body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
        if where == "value":
            raw = body + f"tagged: {tag}\n"
        elif where == "document":
            raw = f"--- {tag.split(' ')[0]}\n{body}"
        elif where == "key":
            raw = body + f"? {tag}\n: 1\n"
        else:
            raw = "%TAG !py! tag:yaml.org,2002:python/object/apply:\n--- \n" + body + f"tagged: !py!os.system ['touch {marker}']\n"
        return Case(kind, raw=raw, words="valid YAML")
    if kind == "garbage":
        return Case(kind, raw=draw(st.one_of(text, st.binary(max_size=200), st.text(max_size=200))), expect="error")
    if kind == "top_level":
        raw = draw(
            st.one_of(
                st.sampled_from(["", "---\n", "~\n", "# only a comment\n"]),
                st.one_of(scalars, st.lists(values, max_size=4)).map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
            )
        )
        return Case(kind, raw=raw, words="mapping of scenario fields")
    if kind == "total_work":
        # Beyond what even summary mode runs: refused when the file is read, whatever the overrides.
        # (The lower limit of runs that keep their event log is tested in test_limits.py.)
        size = draw(st.integers(MAX_SUMMARY_LIFETIMES // 20 + 1, MAX_PATIENTS))
        doc["cohort"]["size"] = size
        doc["replications"] = draw(st.integers(-(-(MAX_SUMMARY_LIFETIMES + 1) // (2 * size)), 10))
        return Case(kind, doc, field="cohort.size", words=f"at most {MAX_SUMMARY_LIFETIMES} simulated lifetimes")
    if kind == "random_value":
        path, _ = draw(st.sampled_from(TYPED_PATHS))
        set_at(doc, path, draw(values))
        return Case(kind, doc, expect="maybe")
    if kind == "distribution":
        name = draw(st.sampled_from(DISTRIBUTIONS))
        family = draw(st.one_of(st.sampled_from(sorted(FAMILIES)), text))
        keys = sorted({k for _, accepted in FAMILIES.values() for group in accepted for k in group})
        number = st.one_of(st.floats(), st.floats(1e-300, 1e300), st.integers(-(10**5), 10**5), st.sampled_from([0, 1e-300, 1e300, 5e-324]))
        params = draw(st.dictionaries(st.sampled_from(keys), st.one_of(number, st.lists(number, max_size=4), text), max_size=3))
        if family in FAMILIES and draw(st.booleans()):  # an accepted parameter set with extreme values
            params = {k: draw(number) for k in sorted(draw(st.sampled_from(FAMILIES[family][1])))}
            if family == "piecewise_exponential":
                params = {"cuts": [0, *sorted(draw(st.lists(st.floats(1e-9, 1e6), max_size=3, unique=True)))], "rates": None}
                params["rates"] = draw(st.lists(st.floats(0, 1e6), min_size=len(params["cuts"]), max_size=len(params["cuts"])))
        doc["parameters"][name] = {"distribution": family, "params": params}
        doc["strategies"].append("best-supportive-care")
        return Case(kind, doc, field=f"parameters.{name}", expect="maybe")
    assert kind == "extreme_values"
    name = draw(st.sampled_from(sorted(n for n, (e, _) in LIBRARY.items() if e.value is not None and not n.startswith("cohort."))))
    doc["parameters"][name] = draw(
        st.one_of(st.sampled_from([0, 1, 1e-3, 1e3, 100, 5e-324, 1e308, -0.0]), st.floats(allow_nan=False, allow_infinity=False))
    )
    return Case(kind, doc, field=f"parameters.{name}", expect="maybe")


def render(case: Case, draw) -> bytes:
    if case.raw is not None:
        return case.raw if isinstance(case.raw, bytes) else case.raw.encode("utf-8", "surrogatepass")
    style = draw(st.sampled_from([False, None, True]))
    return yaml.safe_dump(case.doc, sort_keys=False, allow_unicode=draw(st.booleans()), default_flow_style=style).encode("utf-8")


def check_case(case: Case, content: bytes, folder: Path, capsys, stats: Counter) -> None:
    path = folder / "case.yaml"
    out = folder / "out"
    path.write_bytes(content)
    stats["files"] += 1
    stats[f"kind:{case.kind}"] += 1
    if case.expect == "error":
        status = main(["run", str(path), "--out", str(out), "--patients", "3", "--replications", "1"])
    else:
        status = main(["validate", str(path)])
    captured = capsys.readouterr()
    err = captured.err
    lines = err.splitlines()
    assert "Traceback" not in err and "Traceback" not in captured.out, err
    assert not out.exists(), f"{case.kind}: an output folder was written"
    assert sorted(p.name for p in folder.iterdir()) == ["case.yaml"], f"{case.kind}: something else was written"
    if case.expect == "warn":
        assert status == 0, (case.kind, err)
        assert lines and all(line.startswith("nelm-sim: warning: ") for line in lines), err
        assert case.field in lines[0] and case.words in lines[0] and str(path) in lines[0], err
        stats["warned"] += 1
        return
    if case.expect == "maybe" and status == 0:
        assert all(line.startswith("nelm-sim: warning: ") for line in lines), err
        stats["valid"] += 1
        simulate_valid(path, stats)
        return
    assert status == 2, (case.kind, status, err)
    assert len(lines) == 1, (case.kind, err)
    line = lines[0]
    assert line.startswith("nelm-sim: error: ") and str(path) in line and "expected" in line, line
    if case.field is not None and not case.combined:
        assert case.field in line, (case.kind, case.field, line)
    if case.words is not None and not case.combined:
        assert case.words in line, (case.kind, case.words, line)
    stats["refused"] += 1


def simulate_valid(path: Path, stats: Counter) -> None:
    """A file that passed validation runs (3 patients, 1 replication) or stops with a one-line error."""
    scenario = load_scenario(path).with_overrides(patients=3, replications=1)
    try:
        outcome = run_scenario(scenario, path)
    except UserInputError as exc:
        assert "\n" not in str(exc)
        stats["stopped_by_a_limit"] += 1
        return
    patients = outcome.result.patients
    assert (patients["os_months"] >= 0).all() and (patients["os_months"] <= scenario.horizon_months + 1e-9).all()
    assert not patients["os_months"].isna().any()
    stats["simulated"] += 1


def run_fuzz(tmp_path: Path, capsys, examples_per_kind: int) -> Counter:
    marker = tmp_path / "pwned"
    folder = tmp_path / "work"
    folder.mkdir()
    stats: Counter = Counter()
    seen: set[str] = set()

    @settings(
        max_examples=examples_per_kind,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )
    @given(data=st.data())
    def fuzz(kind, data):
        case = data.draw(cases(str(marker), kind))
        if case.doc is not None and case.expect == "error" and data.draw(st.integers(0, 4)) == 0:
            # a second defect: still exactly one line and exit 2, whichever of the two is reported
            extra = data.draw(st.sampled_from([("parameters", "no.such.parameter"), ("cohort", "colour"), ("strategies", 1, "colour")]))
            try:
                set_at(case.doc, extra, 1)
                case.combined = True
            except (KeyError, IndexError, TypeError):
                pass
        content = render(case, data.draw)
        seen.add(hashlib.sha256(content).hexdigest())
        for leftover in folder.iterdir():
            leftover.unlink()
        check_case(case, content, folder, capsys, stats)
        assert not marker.exists(), "a YAML tag ran a command"

    for kind in KINDS:  # the same number of files of every kind
        fuzz(kind)
    stats["distinct"] = len(seen)
    return stats


def test_fuzz_scenarios_quick(tmp_path, capsys):
    stats = run_fuzz(tmp_path, capsys, examples_per_kind=7)
    assert stats["files"] >= 7 * len(KINDS) and stats["refused"] > 100


@pytest.mark.slow
def test_fuzz_two_thousand_scenario_files(tmp_path, capsys):
    stats = run_fuzz(tmp_path, capsys, examples_per_kind=110)
    with capsys.disabled():
        kinds = ", ".join(f"{k.removeprefix('kind:')} {v}" for k, v in sorted(stats.items()) if k.startswith("kind:"))
        print(
            f"\nfuzz: {stats['files']} scenario files ({stats['distinct']} distinct): {stats['refused']} refused with one line,"
            f" {stats['warned']} warned, {stats['valid']} valid ({stats['simulated']} simulated, {stats['stopped_by_a_limit']} stopped by a limit); {kinds}"
        )
    assert stats["distinct"] >= 2000
    assert stats["files"] >= 2000 and all(stats[f"kind:{k}"] >= 100 for k in KINDS)


SUBPROCESS_FILES = {
    "billion laughs": "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    "python object": "name: !!python/object/apply:os.system ['touch {marker}']\nseed: 1\n",
    "nan horizon": yaml.safe_dump({**BASE, "horizon_months": math.nan}),
    "unicode name": yaml.safe_dump({**BASE, "name": "caf\u00e9\u202e\n\u2028x"}, allow_unicode=True),
}


def test_no_traceback_reaches_stderr_in_a_real_process(tmp_path):
    marker = tmp_path / "pwned"
    procs = {}
    for index, (label, content) in enumerate(SUBPROCESS_FILES.items()):
        path = tmp_path / f"case{index}.yaml"
        if isinstance(content, str):
            content = content.replace("{marker}", str(marker)).encode("utf-8")
        path.write_bytes(content)
        command = [sys.executable, "-m", "simulator", "run", str(path), "--out", str(tmp_path / f"out{index}")]
        procs[label] = (
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            path,
            tmp_path / f"out{index}",
        )
    for label, (proc, path, out) in procs.items():
        stdout, stderr = proc.communicate()
        assert proc.returncode == 2, (label, stderr)
        assert stderr.count("\n") == 1 and stderr.startswith("nelm-sim: error: ") and str(path) in stderr, (label, stderr)
        assert "Traceback" not in stderr + stdout, label
        assert not out.exists(), label
    assert not marker.exists()
