"""Markdown to HTML for the hand-in report: the experiments' texts, the
tables and the generated discussion are Markdown
(:mod:`convnets.experiment.report`), rendered here with markdown-it
(CommonMark and tables; raw HTML in the source is escaped, not passed on)."""

from __future__ import annotations

import base64
import functools

from markdown_it import MarkdownIt
from markupsafe import Markup


@functools.lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
  return MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")


def html(markdown: str) -> Markup:
  """``markdown`` as HTML, safe to place in the template as it is."""
  return Markup(_parser().render(markdown))


def inline(markdown: str) -> Markup:
  """One line of ``markdown`` as inline HTML (no ``<p>``)."""
  return Markup(_parser().renderInline(markdown))


def png_uri(path: str) -> str:
  """The PNG file ``path`` as a ``data:image/png;base64,...`` URI."""
  with open(path, "rb") as f:
    return "data:image/png;base64," + base64.b64encode(f.read()).decode("ascii")
