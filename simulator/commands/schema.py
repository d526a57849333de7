"""`nelm-sim schema`: the JSON Schema of scenario files, generated from the validation models, so that
an editor (VS Code's YAML extension, JetBrains IDEs) completes and checks scenario files as they are
typed. The models stay the single source of truth; this only adds what their before-validators accept
beyond the models' own types (a strategy given by name, one value where a list is allowed)."""

from __future__ import annotations

import copy
import json
from typing import Any

from ..config import Scenario

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://github.com/nelm-sim/nelm-sim/scenario.schema.json"
# RuleCondition fields that also take a single value instead of a list (its _one_or_many validator).
ONE_OR_MANY = ("primary_site", "grade", "burden", "after", "not_after", "progressed_on")


def _one_or_many(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf", [schema])
    widened = []
    for option in options:
        widened.append(option)
        if option.get("type") == "array":
            widened.append(copy.deepcopy(option["items"]))
    rest = {k: v for k, v in schema.items() if k != "anyOf" and k not in ("type", "items", "maxItems", "minItems")}
    return {**rest, "anyOf": widened}


def _strategy_or_name(schema: dict[str, Any]) -> dict[str, Any]:
    """A list of strategies may name a bundled strategy instead of spelling it out."""
    schema = copy.deepcopy(schema)
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "array":
            option["items"] = {"anyOf": [{"type": "string", "description": "a bundled strategy, by name"}, option["items"]]}
    return schema


def scenario_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema(mode="validation")
    definitions = schema.get("$defs", {})
    condition = definitions.get("RuleCondition", {}).get("properties", {})
    for name in ONE_OR_MANY:
        if name in condition:
            condition[name] = _one_or_many(condition[name])
    for holder in (schema, *definitions.values()):
        properties = holder.get("properties", {})
        if "strategies" in properties:
            properties["strategies"] = _strategy_or_name(properties["strategies"])
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return json.dumps(scenario_schema(), indent=2, sort_keys=True) + "\n"
