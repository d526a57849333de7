"""Every YAML example in README.md and docs/ (docs/**/*.md, the tutorials included) validates and every
`nelm-sim` command line of their shell blocks runs (issue 19 item 15, issue 20 item 10); the reference
pages the docs site generates at build time cover every scenario field and every parameter.

A block with a top-level ``name`` is a whole scenario file; any other block is a fragment (a
``capacity:``, ``economics:`` or ``variants:`` section) and is checked inside a small scenario."""

from __future__ import annotations

import re
from pathlib import Path

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
# A YAML block whose first line is "# NAME.yaml: ..." is a file the text asks the reader to save (e.g.
# docs/tutorials/educator.md's classroom.yaml); the commands of that document then name it.
SAVED_AS = re.compile(r"\A# ([\w.-]+\.yaml)\b")


def saved_files(document) -> dict[str, str]:
    found = {}
    for match in BLOCK.finditer(document.read_text(encoding="utf-8")):
        if name := SAVED_AS.match(match.group(1)):
            found[name.group(1)] = match.group(1)
    return found


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
    # two strategies rather than the baseline's six: dsa re-simulates every strategy at both bounds of
    # each of its 193 parameters, and the example is tested for running, not for its figures
    "dsa": "scenarios/eur-prrt.yaml",
}
PLACEHOLDERS = {"NAME": "theatre", "DAYS": "30", "N": "2", "X": "30000", "DIR": "out"}
QUICK = {"--patients": "20", "--replications": "1", "--draws": "3", "--workers": "1", "--max-replications": "3"}
NOT_RUN = {
    ("calibrate",): "refits and rewrites the package's own calibrated parameters (minutes; tested in test_calibration.py)",
    ("--scheduler",): "needs a running Dask cluster at the documented address",
}
# Documented commands that another test runs with the same arguments and checks more closely than
# "it ran": run once in the suite, there.
RUN_ELSEWHERE = {
    ("calibrate", "--check", "--identifiability"): "the same command line (20 patients per arm) is run and its report "
    "checked by test_calibration.py::test_calibrate_writes_the_identifiability_report",
}
# Shell lines that are not `nelm-sim` commands, and why they are not run here: each is long-running or
# needs what a test cannot give. A line that matches none of them fails test_every_shell_line_is_run_or_listed,
# so that a new kind of example (a `.venv/bin/python scripts/...` line, say) is not skipped silently.
OTHER_LINES = {
    "make run": "the full baseline (1500 patients x 4 replications x 6 strategies; minutes)",
    "make test": "the whole suite (about 10 minutes), of which this test is part",
    "make app": "starts the Streamlit server and waits for Ctrl-C (tests/test_app*.py drive the page headless)",
    "make e2e": "installs and drives Chromium (minutes)",
    "make docs": "installs the docs extra and builds the site; run as its own make target",
    "python -m simulator ...": "a synopsis: the same entry point as nelm-sim (the subprocess tests run it so: tests/processes.py)",
}
EXIT_STATUS = {"calibrate": {0, 1}}  # README: "exits 1 if any target fails" (20 patients per arm: some do)


def shell_lines():
    """(document, line) for every line of every shell block, a synopsis continued on the next line joined."""
    for document in DOCUMENTS:
        for match in SH_BLOCK.finditer(document.read_text(encoding="utf-8")):
            lines: list[str] = []
            for line in match.group(1).splitlines():
                if line.startswith((" ", "\t")) and lines:  # a synopsis continued on the next line
                    lines[-1] += " " + line.strip()
                else:
                    lines.append(line)
            for line in lines:
                yield document, re.split(r"\s+#", line, maxsplit=1)[0].strip()


SHELL_COMMANDS = [
    pytest.param(document, command, id=f"{document.relative_to(ROOT)}: {command}")
    for document, command in shell_lines()
    if command.startswith("nelm-sim ")
]


def _without_optional_parts(command: str) -> str:
    while OPTIONAL.search(command):
        command = OPTIONAL.sub("", command)
    return " ".join(command.split())


def test_every_shell_line_is_run_or_listed():
    unlisted = [
        f"{document.relative_to(ROOT)}: {line}"
        for document, line in shell_lines()
        if line and not line.startswith("nelm-sim ") and not line.startswith(tuple(OTHER_LINES))
    ]
    assert unlisted == []


def test_the_tutorials_have_runnable_examples():
    tutorials = {param.values[0].name for param in SHELL_COMMANDS if "tutorials" in param.values[0].parts}
    assert tutorials == {"analyst.md", "planner.md", "educator.md"}


def quick_arguments(command: str, tmp_path) -> list[str]:
    """The example's arguments, with the placeholders filled in and sizes made small."""
    from simulator.cli import build_parser

    words = _without_optional_parts(command).split()[1:]  # a synopsis line: its optional parts are left out
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


def same_run_key(document, command: str) -> tuple:
    """What a run of the example depends on: its quick arguments (placeholders filled in, sizes made small,
    the --out left as a placeholder) and the files its document asks the reader to save, if it names one."""
    arguments = tuple(quick_arguments(command, Path("/OUT")))
    saved = saved_files(document)
    return arguments, tuple(sorted(saved.items())) if saved.keys() & set(arguments) else ()


# Examples that become the same run once placeholders are filled in and sizes made small (a synopsis and
# its example, `nelm-sim compare SCENARIO` and `nelm-sim compare scenarios/baseline.yaml`, a tutorial's
# line with larger sizes) run once: the first of them runs it.
FIRST_WITH_THE_SAME_RUN: dict[tuple, str] = {}
for _param in SHELL_COMMANDS:
    FIRST_WITH_THE_SAME_RUN.setdefault(same_run_key(*_param.values), _param.id)


def test_the_documents_have_command_examples():
    assert len(SHELL_COMMANDS) >= 20


@pytest.mark.parametrize(("document", "command"), SHELL_COMMANDS)
def test_command_example_parses(document, command, tmp_path, capsys):
    """Quick: every documented command line is one the parser accepts (options spelt as they are)."""
    from simulator.cli import build_parser

    build_parser().parse_args(quick_arguments(command, tmp_path))
    assert capsys.readouterr().err == ""


@pytest.mark.slow
@pytest.mark.parametrize(("document", "command"), SHELL_COMMANDS)
def test_command_example_runs(document, command, tmp_path, capsys, monkeypatch):
    for words, reason in NOT_RUN.items():
        if all(word in command.split() for word in words) and "--check" not in command.split():
            pytest.skip(reason)
    for words, reason in RUN_ELSEWHERE.items():
        if all(word in command.split() for word in words):
            pytest.skip(reason)
    first = FIRST_WITH_THE_SAME_RUN[same_run_key(document, command)]
    if first != f"{document.relative_to(ROOT)}: {command}":
        pytest.skip(f"runs as the example {first!r}: the same arguments once placeholders are filled in and sizes made small")
    monkeypatch.chdir(tmp_path)
    for name, text in saved_files(document).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    arguments = quick_arguments(command, tmp_path)
    status = main(arguments)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    assert status in EXIT_STATUS.get(arguments[0], {0}), (arguments, err)
    assert not (tmp_path / "outputs").exists()  # everything went to the --out given


# --------------------------------------------------------------------------------------------
# The reference pages of the docs site (docs/hooks/reference.py), rendered as the build renders them.


def _reference_hook():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_reference_hook", ROOT / "docs" / "hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_scenario_reference_lists_every_section_and_field():
    from simulator.commands.schema import scenario_schema

    schema, page = scenario_schema(), _reference_hook().scenario_reference()
    holders = {"Scenario": schema, **schema["$defs"]}
    for section, holder in holders.items():
        body = page.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
        for field, spec in holder.get("properties", {}).items():
            row = next(line for line in body.splitlines() if line.startswith(f"| `{field}` |"))
            if field in holder.get("required", []):
                assert "*required*" in row
            if isinstance(spec.get("maximum"), (int, float)):
                assert f"≤ {spec['maximum']}" in row


def test_parameter_table_lists_every_parameter_with_its_source():
    from simulator.commands.params import parameter_rows

    page = _reference_hook().parameters_reference()
    for row in parameter_rows():
        assert f"| `{row['name']}` | {row['value']} | {row['unit']} |" in page
