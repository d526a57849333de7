"""The stored regression outputs (tests/regression/): every command's CSVs, unchanged to the byte.

A difference means behaviour changed. If the change is intended, ``make regression-update`` rewrites
``tests/regression/expected/`` and the commit explains the diff; otherwise it is a regression.
"""

from __future__ import annotations

import difflib

import pytest

from tests.regression.cases import CASES, run_case, stored


def _first_differences(name: str, relative: str, expected: str, actual: str, lines: int = 12) -> str:
    diff = difflib.unified_diff(
        expected.splitlines(), actual.splitlines(), f"stored/{name}/{relative}", f"now/{name}/{relative}", n=0, lineterm=""
    )
    return "\n".join(list(diff)[:lines])


@pytest.mark.parametrize("name", list(CASES))
def test_command_outputs_match_the_stored_regression_outputs(name, tmp_path):
    expected = stored(name)
    assert expected, f"no stored outputs for {name}: run `make regression-update`"
    actual = run_case(name, tmp_path / name)
    assert sorted(actual) == sorted(expected), f"{name}: CSV files differ: stored {sorted(expected)}, now {sorted(actual)}"
    changed = [relative for relative in expected if actual[relative] != expected[relative]]
    assert not changed, f"{name}: {len(changed)} of {len(expected)} CSV files changed:\n" + "\n".join(
        _first_differences(name, relative, expected[relative], actual[relative]) for relative in changed
    )


def test_no_stored_output_holds_an_infinity_or_nan():
    """Undefined or unreached values are empty cells (issue 19, item 7); the stored outputs cover every command."""
    from tests.regression.cases import EXPECTED

    offending = [
        f"{path.relative_to(EXPECTED)}:{number}"
        for path in sorted(EXPECTED.rglob("*.csv"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(cell.strip().lower() in ("inf", "-inf", "nan", "infinity") for cell in line.split(","))
    ]
    assert offending == []
