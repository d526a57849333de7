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


# --------------------------------------------------------------------------------------------
# Every `nelm-sim ...` line of a ```sh block runs (issue 19, item 15), with small sizes: the
# placeholders become bundled files, and options that make it quick (--patients 20, --replications 1,
# --draws 3, --workers 1, --quiet, an --out in a temporary folder) are added where the command has them.

SH_BLOCK = re.compile(r"^```(?:sh|bash|console|shell)\n(.*?)^```", re.DOTALL | re.MULTILINE)
OPTIONAL = re.compile(r"\s\[[^\[\]]*\]")  # a synopsis's optional part: [--out DIR], [SCENARIO]
SCENARIO_FOR = {
    "capacity": "scenarios/capacity-constrained.yaml",
    "scenarios": "scenarios/population-variants.yaml",
}
PLACEHOLDERS = {"NAME": "theatre", "DAYS": "30", "N": "2", "X": "30000", "DIR": "out"}
QUICK = {"--patients": "20", "--replications": "1", "--draws": "3", "--workers": "1", "--max-replications": "3"}
NOT_RUN = {
    ("calibrate",): "refits and rewrites the package's own calibrated parameters (minutes; tested in test_calibration.py)",
    ("--scheduler",): "needs a running Dask cluster at the documented address",
}
EXIT_STATUS = {"calibrate": {0, 1}}  # README: "exits 1 if any target fails" (20 patients per arm: some do)


def shell_commands():
    for document in DOCUMENTS:
        for match in SH_BLOCK.finditer(document.read_text(encoding="utf-8")):
            lines: list[str] = []
            for line in match.group(1).splitlines():
                if line.startswith((" ", "\t")) and lines:  # a synopsis continued on the next line
                    lines[-1] += " " + line.strip()
                else:
                    lines.append(line)
            for line in lines:
                command = re.split(r"\s+#", line, maxsplit=1)[0].strip()
                if command.startswith("nelm-sim "):
                    yield pytest.param(command, id=f"{document.relative_to(ROOT)}: {command}")


SHELL_COMMANDS = list(shell_commands())


def quick_arguments(command: str, tmp_path) -> list[str]:
    """The example's arguments, with the placeholders filled in and sizes made small."""
    from simulator.cli import build_parser

    text = command
    while OPTIONAL.search(text):  # a synopsis line: its optional parts are left out
        text = OPTIONAL.sub("", text)
    words = text.split()[1:]
    name = words[0]
    words = [str(ROOT / SCENARIO_FOR.get(name, "scenarios/baseline.yaml")) if w in ("SCENARIO", "FILE") else w for w in words]
    words = [str(ROOT / w) if w.startswith("scenarios/") else w for w in words]
    words = [PLACEHOLDERS.get(w, w) for w in words]
    subparser = build_parser()._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]
    accepted = {option for action in subparser._actions for option in action.option_strings}
    for option, value in QUICK.items():
        if option not in accepted or (option == "--max-replications" and "--precision" not in words):
            continue
        if option in words:
            words[words.index(option) + 1] = value
        else:
            words += [option, value]
    if "--out" in accepted:
        if "--out" in words:
            del words[words.index("--out") : words.index("--out") + 2]
        words += ["--out", str(tmp_path / "out")]
    if "--seed-dir" in accepted:
        words += ["--seed-dir", str(ROOT / "scenarios" / "seed")]
    words += ["--quiet"] * ("--quiet" in accepted)
    return words


def test_the_documents_have_command_examples():
    assert len(SHELL_COMMANDS) >= 20


@pytest.mark.parametrize("command", SHELL_COMMANDS)
def test_command_example_parses(command, tmp_path, capsys):
    """Quick: every documented command line is one the parser accepts (options spelt as they are)."""
    from simulator.cli import build_parser

    build_parser().parse_args(quick_arguments(command, tmp_path))
    assert capsys.readouterr().err == ""


@pytest.mark.slow
@pytest.mark.parametrize("command", SHELL_COMMANDS)
def test_command_example_runs(command, tmp_path, capsys, monkeypatch):
    for words, reason in NOT_RUN.items():
        if all(word in command.split() for word in words) and "--check" not in command.split():
            pytest.skip(reason)
    monkeypatch.chdir(tmp_path)
    arguments = quick_arguments(command, tmp_path)
    status = main(arguments)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    assert status in EXIT_STATUS.get(arguments[0], {0}), (arguments, err)
    assert not (tmp_path / "outputs").exists()  # everything went to the --out given
