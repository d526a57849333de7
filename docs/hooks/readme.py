"""mkdocs hook: the site's home page is README.md, whose links are written for the repository's root.

docs/index.md stays a stub, so that README.md is the one text; its links into docs/ are made relative to
docs/, and its links to other files of the repository (outside the site) become the path in code type.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")
# A link to a file of the repository outside docs/: "[words](path)" becomes "words (`path`)".
OUTSIDE = re.compile(r"\[([^\]]+)\]\((?!https?://|#|mailto:|docs/)([^)\s]+)\)")


def _site_links(text: str) -> str:
    text = OUTSIDE.sub(lambda m: f"{m.group(1)} (`{m.group(2)}`)", text)
    return LINK.sub(lambda m: f"]({m.group(1).removeprefix('docs/')})", text)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 - mkdocs' hook signature
    if page.file.src_uri == "index.md":
        return _site_links(README.read_text(encoding="utf-8"))
    return markdown
