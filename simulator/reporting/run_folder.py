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


def package_versions() -> dict[str, str]:
    versions = {}
    for name in ("nelm-sim", *DEPENDENCIES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def check_destination(destination: Path, force: bool) -> None:
    if destination.exists() and not force:
        raise OutputExistsError(f"{destination}: expected a folder that does not exist yet (use --force to replace it)")
    if destination.exists() and not destination.is_dir():
        raise OutputExistsError(f"{destination}: expected a folder, found a file")


@contextmanager
def atomic_folder(destination: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``destination`` in one rename."""
    destination = Path(destination)
    check_destination(destination, force)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    try:
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
