"""The package keeps the layer order of docs/architecture.md: no import cycles between its modules, no
import from a higher layer, no private name imported from another module.

Every import counts, including those inside functions (they run too, only later); imports under
``if TYPE_CHECKING:`` do not (they never run). The layer order is written once, in the ``layers`` block of
docs/architecture.md, which this test parses.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "simulator"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# Known edges the layer order does not allow yet, each to be deleted when the change that removes it
# merges (test_temporary_exceptions_are_still_needed fails once the import is gone). None left.
TEMPORARY_EXCEPTIONS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (a package's __init__ is the package's name)
    name: str | None  # the name taken by `from target import name`; None for `import target`
    line: int

    def __str__(self) -> str:
        what = f"{self.target}.{self.name}" if self.name and not self.target.endswith(f".{self.name}") else self.target
        return f"{self.source} (line {self.line}) imports {what}"


def layer_order(text: str) -> dict[str, int]:
    """Layer name -> rank (0 at the bottom) from the ``layers`` block: one rank a line, bottom first,
    names before the first double space, several names on one line sharing a rank."""
    block = re.search(r"^```layers\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert block, f"{ARCHITECTURE}: expected a ```layers block"
    ranks: dict[str, int] = {}
    for rank, line in enumerate(line for line in block.group(1).splitlines() if line.strip()):
        for name in re.split(r"\s{2,}", line.strip())[0].split(","):
            ranks[name.strip()] = rank
    return ranks


def modules(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return skipped


def imports(root: Path, package: str = PACKAGE) -> list[Import]:
    """Every import of a package module by another, at any depth, except under TYPE_CHECKING."""
    known = modules(root, package)
    found = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_only(tree)
        here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                found += [Import(module, a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == package]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
                if base.split(".")[0] != package:
                    continue
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    found.append(Import(module, submodule if submodule in known else base, alias.name, node.lineno))
    return found


def layer_of(module: str) -> str:
    """The top-level module or package a module belongs to; the package root is ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def cycles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if edge.source != edge.target:
            graph.setdefault(edge.source, set()).add(edge.target)
            graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward(edges: list[Import], ranks: dict[str, int]) -> list[Import]:
    """Imports from a higher layer, or between two layers that share a rank."""
    return [e for e in edges if layer_of(e.source) != layer_of(e.target) and ranks[layer_of(e.target)] >= ranks[layer_of(e.source)]]


def private(edges: list[Import]) -> list[Import]:
    """`from module import _name` of a module other than the importer's own."""
    return [e for e in edges if e.name and e.name.startswith("_") and not e.name.endswith("__") and e.source != e.target]


def _checked(edges: list[Import]) -> list[Import]:
    return [e for e in edges if (e.source, e.target) not in TEMPORARY_EXCEPTIONS]


def test_every_module_belongs_to_a_documented_layer():
    ranks = layer_order(ARCHITECTURE.read_text(encoding="utf-8"))
    layers = {layer_of(m) for m in modules(ROOT)}
    assert not layers - set(ranks), f"not in the layers of {ARCHITECTURE.name}: {sorted(layers - set(ranks))}"
    assert not set(ranks) - layers, f"layers of {ARCHITECTURE.name} with no module: {sorted(set(ranks) - layers)}"


def test_no_import_cycles():
    found = cycles(_checked(imports(ROOT)))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_import_from_a_higher_layer():
    ranks = layer_order(ARCHITECTURE.read_text(encoding="utf-8"))
    found = upward(_checked(imports(ROOT)), ranks)
    assert not found, "imports against the layer order of docs/architecture.md:\n" + "\n".join(map(str, found))


def test_no_private_name_imported_from_another_module():
    found = private(imports(ROOT))
    assert not found, "private names imported:\n" + "\n".join(map(str, found))


def test_temporary_exceptions_are_still_needed():
    edges = {(e.source, e.target) for e in imports(ROOT)}
    gone = TEMPORARY_EXCEPTIONS - edges
    assert not gone, f"delete from TEMPORARY_EXCEPTIONS, the import is gone: {sorted(gone)}"


def test_the_checks_find_what_they_look_for(tmp_path):
    """A planted cycle, upward import and private import are found; TYPE_CHECKING imports are not."""
    package = tmp_path / "pkg"
    (package / "low").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/a.py": "def f():\n    from ..high import g\n",  # upward, inside a function
        "low/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..high import g\nfrom . import c\n",
        "low/c.py": "from .b import _helper\n",  # cycle b <-> c and a private import
        "high.py": "from .low.a import f\ng = f\n",
    }
    for name, text in files.items():
        (package / name).write_text(text, encoding="utf-8")
    edges = imports(tmp_path, "pkg")
    assert cycles(edges) == [["pkg.high", "pkg.low.a"], ["pkg.low.b", "pkg.low.c"]]
    assert [(e.source, e.target) for e in upward(edges, {"low": 0, "high": 1, "__init__": 2})] == [("pkg.low.a", "pkg.high")]
    assert [(e.source, e.name) for e in private(edges)] == [("pkg.low.c", "_helper")]
