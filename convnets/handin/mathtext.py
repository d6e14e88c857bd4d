"""Equations typeset by matplotlib's mathtext as SVG, for the hand-in report.

WeasyPrint runs no JavaScript (no MathJax), so equations reach the HTML and
the PDF as images. SVG keeps them vector in the PDF, at their natural size
in points; matplotlib draws the glyphs as paths, and with no date and a
fixed hash salt the same equation gives the same bytes, so the report is
reproducible.
"""

from __future__ import annotations

import base64
import functools
import io

import matplotlib
from matplotlib.figure import Figure

FONT_SIZE = 11  # points: the body text's size, so that equations match it


@functools.lru_cache(maxsize=None)
def svg(tex: str) -> bytes:
  """The SVG of the mathtext ``tex`` (without ``$``). ValueError for a
  mathtext matplotlib cannot parse."""
  buffer = io.BytesIO()
  with matplotlib.rc_context({"svg.hashsalt": "convnets-handin", "svg.fonttype": "path",
                              "mathtext.fontset": "dejavuserif"}):
    figure = Figure(figsize=(0.01, 0.01))
    figure.text(0, 0, f"${tex}$", fontsize=FONT_SIZE)
    figure.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.02,
                   transparent=True, metadata={"Date": None})
  return buffer.getvalue()


def data_uri(tex: str) -> str:
  """``tex`` typeset as an ``data:image/svg+xml;base64,...`` URI."""
  return "data:image/svg+xml;base64," + base64.b64encode(svg(tex)).decode("ascii")
