"""Strategies as data: an ordered list of rules; at each decision the first rule whose conditions hold
and whose treatment the patient is eligible for is taken. If none applies: best supportive care.

Bundled strategies live in ``strategies.yaml`` beside this module; scenario files reference them by
name or define their own with the same schema.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from ..config import RuleCondition, Scenario, StrategyConfig, read_yaml, validation_error_to_scenario_error
from ..errors import ScenarioError, ScenarioWarning, did_you_mean
from . import FALLBACK_TREATMENT, MODALITIES
from .base import MAX_LINES, Modality
from .systemic import SystemicTherapy

# Beyond MAX_LINES (pathways/base.py) every line is best supportive care without further progression,
# so no patient lives more than MAX_LINES + 1 lines, however short the times to progression.


@dataclass(frozen=True)
class Strategy:
    name: str
    description: str
    rules: tuple  # tuple[Rule, ...]
    telotristat: bool
    # (rule index, max uses, share, compiled conditions, modality) per rule: built once, read at every decision.
    plan: tuple = field(init=False, repr=False, compare=False)
    # The same with the tests of conditions that fail for good (``settled``).
    lasting_plan: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plan = tuple(
            (index, rule.max_uses, rule.share, compile_condition(rule.when), MODALITIES[rule.treatment])
            for index, rule in enumerate(self.rules)
        )
        object.__setattr__(self, "plan", plan)
        lasting = tuple(
            (index, max_uses, share, compile_lasting_failures(rule.when), modality)
            for (index, max_uses, share, _, modality), rule in zip(plan, self.rules)
        )
        object.__setattr__(self, "lasting_plan", lasting)

    def __reduce__(self):
        # The plan holds the condition predicates, which pickle cannot carry to a worker: it is rebuilt there.
        return (Strategy, (self.name, self.description, self.rules, self.telotristat))

    def choose(self, course):
        """(modality, rule index) for the patient's next line; rule index -1 is the fallback."""
        if course.line < MAX_LINES:
            for index, max_uses, share, conditions, modality in self.plan:
                if max_uses is not None and course.rule_uses.get(index, 0) >= max_uses:
                    continue
                if share is not None and course.share_draw(modality.name) >= share:
                    continue
                for predicate, value in conditions:
                    if not predicate(value, course):
                        break
                else:
                    if modality.eligible(course):
                        return modality, index
        return MODALITIES[FALLBACK_TREATMENT], -1

    def settled(self, course) -> bool:
        """True when, from the line under way, no rule can apply at any later decision as long as the patient
        receives only supportive care: every rule has used its turns, missed its share, or fails a condition or
        an eligibility that cannot come back (traits that do not change, a line or month already passed, a
        treatment already given or never to be given). Rules whose conditions may yet hold (``min_line``,
        ``min_months``, symptoms that may relapse) keep the patient unsettled."""
        if course.line >= MAX_LINES:
            return True
        for index, max_uses, share, lasting_failures, modality in self.lasting_plan:
            if modality.name == FALLBACK_TREATMENT:
                continue  # whether it applies or not, the decision gives the fallback (when the other rules cannot)
            if max_uses is not None and course.rule_uses.get(index, 0) >= max_uses:
                continue
            if share is not None and course.share_draw(modality.name) >= share:
                continue
            if any(fails(value, course) for fails, value in lasting_failures):
                continue
            if modality.lasting_ineligibility and not modality.eligible(course):
                continue
            return False
        return True

    def describe(self) -> list[str]:
        """The rules in plain words, for reports."""
        lines = []
        for rule in self.rules:
            conditions = [f"{k}={v}" for k, v in rule.when.model_dump(exclude_none=True).items()]
            text = MODALITIES[rule.treatment].label
            if conditions:
                text += " if " + ", ".join(conditions)
            if rule.max_uses:
                text += f" (at most {rule.max_uses}x)"
            if rule.share is not None:
                text += f" (in {rule.share:.0%} of patients)"
            lines.append(text)
        lines.append("otherwise: best supportive care")
        return lines


# One predicate per condition field; a rule is compiled to the predicates of the fields it sets,
# so a decision tests only those (most rules set one to three of the seventeen).
_CONDITIONS = {
    "sex": lambda v, c: c.patient.sex == v,
    "primary_site": lambda v, c: c.patient.primary_site in v,
    "grade": lambda v, c: c.patient.grade in v,
    "burden": lambda v, c: c.patient.burden in v,
    "functional": lambda v, c: c.patient.functional == v,
    "extrahepatic": lambda v, c: c.patient.extrahepatic == v,
    "synchronous": lambda v, c: c.patient.synchronous == v,
    "resectable": lambda v, c: c.resectable_now == v,
    "ssr_positive": lambda v, c: c.patient.ssr_positive == v,
    "symptoms_uncontrolled": lambda v, c: (c.symptoms == "uncontrolled") == v,
    "line": lambda v, c: c.line + 1 == v,
    "min_line": lambda v, c: c.line + 1 >= v,
    "max_line": lambda v, c: c.line + 1 <= v,
    "after": lambda v, c: all(t in c.history for t in v),
    "not_after": lambda v, c: not any(t in c.history for t in v),
    "progressed_on": lambda v, c: c.last_progressed_on in v,
    "min_months": lambda v, c: c.env.now >= v,
    "max_months": lambda v, c: c.env.now <= v,
}


# For the fields whose failure can last: a predicate true when the condition fails at every later decision
# while only supportive care is given (the patient's traits stay, lines and months only pass, the history
# only gains supportive care, and every later decision follows a progression on the line under way or on
# the fallback). Fields left out (min_line, min_months) can come to hold, so they never settle a rule.
def _fails(name: str):
    """The failure of a condition whose failure lasts as soon as it happens."""
    holds = _CONDITIONS[name]
    return lambda v, c: not holds(v, c)


_LASTING_FAILURES = {
    # Fixed traits, a history that only grows, lines and months that only pass.
    **{
        name: _fails(name)
        for name in ("sex", "primary_site", "grade", "burden", "functional", "extrahepatic", "synchronous", "ssr_positive")
        + ("not_after", "max_line", "max_months")
    },
    # Resectability is lost (a capacity run's wait), never regained, without an operation.
    "resectable": lambda v, c: v and not c.resectable_now,
    # Without a hormonal syndrome there are no symptoms to lose control of.
    "symptoms_uncontrolled": lambda v, c: v and c.symptoms == "none",
    "line": lambda v, c: c.line + 1 > v,
    "after": lambda v, c: any(t not in c.history and t != FALLBACK_TREATMENT for t in v),
    "progressed_on": lambda v, c: c.current not in v and FALLBACK_TREATMENT not in v,
}


def compile_lasting_failures(when: RuleCondition) -> tuple:
    """(predicate, value) pairs of the fields ``when`` sets whose failure can last (``_LASTING_FAILURES``)."""
    return tuple(
        (_LASTING_FAILURES[name], getattr(when, name))
        for name in type(when).model_fields
        if name in _LASTING_FAILURES and getattr(when, name) is not None
    )


def compile_condition(when: RuleCondition) -> tuple:
    """(predicate, value) pairs of the fields ``when`` sets; a course meets it when every predicate holds."""
    return tuple((_CONDITIONS[name], getattr(when, name)) for name in type(when).model_fields if getattr(when, name) is not None)


def condition_holds(when: RuleCondition, course) -> bool:
    return all(predicate(value, course) for predicate, value in compile_condition(when))


def bundled_strategies_file() -> Path:
    return Path(str(resources.files("simulator.pathways").joinpath("strategies.yaml")))


def _check_treatments(config: StrategyConfig, file: Path | str, prefix: str) -> None:
    known = sorted(MODALITIES)
    rules = config.rules or []
    for r_index, rule in enumerate(rules):
        where = f"{prefix}.rules[{r_index}]"
        if rule.treatment not in MODALITIES:
            raise ScenarioError(
                file, f"{where}.treatment", f"one of {', '.join(known)}{did_you_mean(rule.treatment, known)}", rule.treatment
            )
        for when_field in ("after", "not_after", "progressed_on"):
            for t_index, name in enumerate(getattr(rule.when, when_field) or ()):
                if name not in MODALITIES:
                    raise ScenarioError(
                        file, f"{where}.when.{when_field}[{t_index}]", f"one of {', '.join(known)}{did_you_mean(name, known)}", name
                    )
        when = rule.when
        if when.min_line and when.max_line and when.min_line > when.max_line:
            raise ScenarioError(file, f"{where}.when.max_line", f"a line >= min_line ({when.min_line})", when.max_line)
        if when.min_months is not None and when.max_months is not None and when.min_months > when.max_months:
            raise ScenarioError(file, f"{where}.when.max_months", f"a time >= min_months ({when.min_months})", when.max_months)
        # Rules that can never fire get a one-line warning (not an error, so that generated rule sets
        # stay runnable); README "Errors and limits".
        never = ""
        if when.line is not None and not (when.min_line or 1) <= when.line <= (when.max_line or when.line):
            never = "when.line lies outside min_line..max_line"
        clash = sorted(set(when.after or ()) & set(when.not_after or ()))
        if clash:
            never = f"when lists {clash[0]} under both after and not_after"
        shadow = next((i for i, earlier in enumerate(rules[:r_index]) if _always_taken(earlier)), None)
        if shadow is not None:
            never = (
                f"rules[{shadow}] ({rules[shadow].treatment}) has no conditions, no max_uses and a treatment"
                " every patient is eligible for, so it is always taken first"
            )
        if never:
            warnings.warn(ScenarioWarning(f"{file}: {where}: this rule never fires: {never}"), stacklevel=2)


def _always_taken(rule) -> bool:
    """True when ``rule`` applies to every patient at every decision (before MAX_LINES)."""
    if rule.max_uses is not None or rule.share is not None or rule.when.model_dump(exclude_none=True):
        return False
    modality = MODALITIES[rule.treatment]
    eligible = type(modality).eligible
    if eligible is Modality.eligible:
        return True
    return (
        isinstance(modality, SystemicTherapy)
        and eligible is SystemicTherapy.eligible
        and modality.sites is None
        and modality.grades is None
        and not modality.needs_ssr
    )


def bundled_strategies() -> dict[str, StrategyConfig]:
    path = bundled_strategies_file()
    data = read_yaml(path, what="strategy")
    try:
        configs = [StrategyConfig.model_validate(item) for item in data["strategies"]]
    except ValidationError as exc:
        raise validation_error_to_scenario_error(path, exc) from None
    for index, config in enumerate(configs):
        _check_treatments(config, path, f"strategies[{index}]")
    return {c.name: c for c in configs}


def resolve_strategies(scenario: Scenario, file: Path | str) -> list[Strategy]:
    """Strategies named or defined in the scenario, checked against the bundled library and modalities."""
    library = bundled_strategies()
    strategies = []
    known = sorted(MODALITIES)
    for index, name in enumerate(scenario.cohort.prior_treatments):
        if name not in MODALITIES:
            raise ScenarioError(file, f"cohort.prior_treatments[{index}]", f"one of {', '.join(known)}{did_you_mean(name, known)}", name)
    for index, config in enumerate(scenario.strategies):
        if config.rules is None:
            if config.name not in library:
                raise ScenarioError(
                    file,
                    f"strategies[{index}].name",
                    f"a bundled strategy ({', '.join(library)}) or a strategy with rules{did_you_mean(config.name, library)}",
                    config.name,
                )
            base = library[config.name]
            config = StrategyConfig(
                name=base.name,
                description=config.description or base.description,
                rules=base.rules,
                telotristat=config.telotristat if config.telotristat is not None else base.telotristat,
            )
        _check_treatments(config, file, f"strategies[{index}]")
        strategies.append(Strategy(config.name, config.description, tuple(config.rules or ()), bool(config.telotristat)))
    return strategies
