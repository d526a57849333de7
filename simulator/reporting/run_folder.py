"""The run folder: written into a temporary sibling folder and renamed at the end, so an interrupted
or failed run never leaves a half-written output folder behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Iterator

from ..errors import UserInputError

DEPENDENCIES = ("simpy", "numpy", "pandas", "scipy", "matplotlib", "pyyaml", "pydantic", "lifelines", "pyarrow")


class OutputExistsError(UserInputError):
    pass


OUTPUT_MARKER = ".nelm-sim-output"  # in every folder atomic_folder writes: what `--force` may replace


def package_versions() -> dict[str, str]:
    versions = {}
    for name in ("nelm-sim", *DEPENDENCIES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def check_destination(destination: Path, force: bool) -> None:
    """Refuse, before any simulation, an output folder that cannot or must not be (re)placed."""
    if destination.exists() and not force:
        raise OutputExistsError(f"{destination}: expected a folder that does not exist yet (use --force to replace it)")
    if destination.exists() and not destination.is_dir():
        raise OutputExistsError(f"{destination}: expected a folder, found a file")
    if destination.is_dir() and any(destination.iterdir()) and not any((destination / n).is_file() for n in (OUTPUT_MARKER, "manifest.json")):
        # --force replaces whole folders: only ones this tool wrote (or empty ones), never e.g. `--out .`
        raise OutputExistsError(f"{destination}: expected an output folder of nelm-sim or an empty folder to replace with --force; it holds other files, left untouched")
    ancestor = Path(os.path.abspath(destination)).parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputExistsError(f"{destination}: expected a path through folders; {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputExistsError(f"{destination}: expected a place where a folder can be written; {ancestor} is not writable")


@contextmanager
def atomic_folder(destination: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``destination`` in one rename."""
    destination = Path(os.path.abspath(destination))
    check_destination(destination, force)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    try:
        (staging / OUTPUT_MARKER).write_text("written by nelm-sim; `--force` may replace this folder\n", encoding="utf-8")
        yield staging
        if destination.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
            os.replace(destination, retired / "old")
            os.replace(staging, destination)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
