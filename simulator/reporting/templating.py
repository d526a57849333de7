"""The Jinja2 environment of report.html: templates are package data (``reporting/templates/``),
every value is HTML-escaped unless it is a ``Markup`` (a table pandas rendered, a section rendered by
its own template), and figures are embedded as base64 PNG so that the file stands alone."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup


@dataclass(frozen=True)
class EmbeddedFigure:
    caption: str
    data: str  # base64 of the PNG

    @classmethod
    def of(cls, path: Path, caption: str) -> EmbeddedFigure:
        return cls(caption, base64.b64encode(Path(path).read_bytes()).decode("ascii"))


def embedded(figures: list[tuple[Path, str]]) -> list[EmbeddedFigure]:
    return [EmbeddedFigure.of(path, caption) for path, caption in figures]


@cache
def environment() -> Environment:
    # StrictUndefined: a name the code forgot to pass is an error, not an empty cell in the report.
    return Environment(
        loader=PackageLoader("simulator.reporting", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context) -> Markup:
    """The template rendered with ``context``, as markup another template may insert unescaped."""
    return Markup(environment().get_template(template).render(**context))
