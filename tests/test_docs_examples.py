"""Every YAML example in README.md and docs/ validates (issue 19, item 15).

A block with a top-level ``name`` is a whole scenario file; any other block is a fragment (a
``capacity:``, ``economics:`` or ``variants:`` section) and is checked inside a small scenario."""

from __future__ import annotations

import re

import pytest
import yaml

from simulator.cli import main

from .conftest import ROOT, tiny_scenario

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)


def yaml_examples():
    for document in DOCUMENTS:
        for index, match in enumerate(BLOCK.finditer(document.read_text(encoding="utf-8"))):
            yield pytest.param(match.group(1), id=f"{document.relative_to(ROOT)}#{index}")


EXAMPLES = list(yaml_examples())
BUNDLED = ["surgery-first", "iat-first", "systemic-first", "watch-and-wait", "guideline", "best-supportive-care"]


def test_the_documents_have_yaml_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("text", EXAMPLES)
def test_yaml_example_validates(text, write_scenario, capsys):
    data = yaml.safe_load(text)
    if "name" not in data:
        data = {**tiny_scenario(strategies=BUNDLED), **data}
        if "capacity" in data:
            data["cohort"] = {"size": 1}
    path = write_scenario(data)
    status = main(["validate", str(path)])
    assert status == 0, capsys.readouterr().err
