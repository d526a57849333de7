"""mkdocs hook: two reference pages generated at build time, so that they cannot drift from the code.

- reference/scenario.md, from the JSON Schema that `nelm-sim schema` prints (scenario_schema): every
  section and field of a scenario file with its type, bounds, default and description;
- reference/parameters.md, from the rows that `nelm-sim params` prints (parameter_rows): every model
  parameter with its value, unit and source.

Neither page is committed: the schema and the parameter files are the one text.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # mkdocs run from a checkout whose package is not installed
    sys.path.insert(0, str(ROOT))

SCENARIO_PAGE = "reference/scenario.md"
PARAMETERS_PAGE = "reference/parameters.md"
BOUNDS = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("minItems", "≥ {} items"),
    ("maxItems", "≤ {} items"),
    ("minLength", "length ≥ {}"),
    ("maxLength", "length ≤ {}"),
    ("pattern", "matches `{}`"),
)


def _cell(text: Any) -> str:
    """Text that keeps a Markdown table row whole."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _anchor(definition: str) -> str:
    return definition.lower()


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in schema:
        return " or ".join(dict.fromkeys(_type(option) for option in schema["anyOf"]))
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"mapping to {_type(schema['additionalProperties'])}"
    return str(kind)


def _bounds(schema: dict[str, Any]) -> str:
    found = [template.format(schema[key]) for key, template in BOUNDS if key in schema]
    for option in schema.get("anyOf", []):
        found += [text for text in (_bounds(option),) if text]
    items = schema.get("items")
    if isinstance(items, dict) and (inner := _bounds(items)):
        found.append(f"each {inner}")
    values = schema.get("additionalProperties")
    if isinstance(values, dict) and (inner := _bounds(values)):
        found.append(f"each value {inner}")
    return ", ".join(dict.fromkeys(found))


def _fields_table(holder: dict[str, Any]) -> list[str]:
    required = set(holder.get("required", []))
    lines = ["| Field | Type | Bounds | Default | Description |", "|---|---|---|---|---|"]
    for name, field in holder.get("properties", {}).items():
        if name in required:
            default = "*required*"
        elif isinstance(field.get("default"), dict) and field["default"] and "$ref" in json.dumps(field):
            default = "its fields' defaults"  # a whole section: each field's default is in its own table
        else:
            default = f"`{_cell(json.dumps(field['default']))}`" if "default" in field else ""
        lines.append(f"| `{name}` | {_cell(_type(field))} | {_cell(_bounds(field))} | {default} | {_cell(field.get('description', ''))} |")
    return lines


def scenario_reference() -> str:
    from simulator.commands.schema import scenario_schema

    schema = scenario_schema()
    lines = [
        "# Scenario file reference",
        "",
        "Generated at build time from the JSON Schema that `nelm-sim schema` prints (the scenario validation",
        "models), so it is the same text the validator checks against. A field marked *required* has no default.",
        "",
        "## Scenario",
        "",
        _cell(schema.get("description", "The top level of a scenario file.")),
        "",
        *_fields_table(schema),
    ]
    for name, definition in sorted(schema.get("$defs", {}).items()):
        lines += ["", f"## {name}", ""]
        if definition.get("description"):
            lines += [_cell(definition["description"]), ""]
        if definition.get("properties"):
            lines += _fields_table(definition)
        else:
            lines.append(f"Type: {_cell(_type(definition))}.")
    return "\n".join(lines) + "\n"


def parameters_reference() -> str:
    from simulator.commands.params import parameter_rows

    rows = parameter_rows()
    lines = [
        "# Parameter library",
        "",
        f"Generated at build time from what `nelm-sim params` prints: the {len(rows)} parameters of the library",
        "(`simulator/params/`), each with its value, unit and source. `nelm-sim params SCENARIO` shows a",
        "scenario's overrides, and `--csv` adds the price year, the file and the sensitivity-analysis settings.",
        "",
        "| Name | Value | Unit | Source |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{row['name']}` | {_cell(row['value'])} | {_cell(row['unit'])} | {_cell(row['source'])} |" for row in rows]
    return "\n".join(lines) + "\n"


def on_files(files, config):  # noqa: ARG001 - mkdocs' hook signature
    # Imported here so that tests can render the pages without the docs extra (mkdocs) installed.
    from mkdocs.structure.files import File

    files.append(File.generated(config, SCENARIO_PAGE, content=scenario_reference()))
    files.append(File.generated(config, PARAMETERS_PAGE, content=parameters_reference()))
    return files
