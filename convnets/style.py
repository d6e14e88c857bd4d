"""One figure style for the whole project: palette, rcParams and layout helpers.

Every figure (an experiment's curves and test errors, a run's pictures, the
kernels and feature maps of the lecture's first layer) goes through
:func:`apply` so that colours, fonts and saved bytes are the same everywhere.
The palette is Okabe and Ito's eight colours, distinguishable under the common
colour-vision deficiencies; an axes holds at most :data:`MAX_SERIES` series,
more are split into facets (:func:`facets`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence, TypeVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

T = TypeVar("T")

# Okabe & Ito (2008), "Color Universal Design": black first for a reference.
# Yellow, the faintest on white, last: only an axes with all eight series uses it.
PALETTE = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7",
           "#F0E442")
MAX_SERIES = len(PALETTE)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DPI = 110
# Signed quantities (kernel weights, feature maps) on one symmetric scale.
DIVERGING = "RdBu_r"
# Fixed metadata so that the same figure gives the same PNG bytes.
METADATA = {"Software": None}

RC = {
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "axes.grid": True,
    "axes.grid.which": "both",
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.titlesize": 11,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "image.cmap": "viridis",
    "lines.linewidth": 1.6,
    "font.family": "DejaVu Sans",
}

# Plain numbers on log axes ("2", "0.05", "300k"), not "2 x 10^0".
COMPACT = FuncFormatter(lambda value, _: f"{value / 1e6:g}M" if value >= 1e6 else
                        f"{value / 1e3:g}k" if value >= 1e3 else f"{value:g}")


def apply() -> None:
  """Set the project's rcParams (idempotent; every drawing function calls it)."""
  matplotlib.rcParams.update(RC)


def colour(i: int) -> str:
  """The ``i``-th series colour (cycling past :data:`MAX_SERIES`)."""
  return PALETTE[i % MAX_SERIES]


def marker(i: int) -> str:
  """The ``i``-th series marker, a second cue beside colour."""
  return MARKERS[i % len(MARKERS)]


def figure(*, rows: int = 1, cols: int = 1, width: float, height: float,
           **kwargs: Any) -> tuple[Any, np.ndarray]:
  """A styled figure and its ``(rows, cols)`` array of axes, laid out by
  matplotlib's constrained layout (titles, labels and outside legends never overlap)."""
  apply()
  return plt.subplots(rows, cols, figsize=(width, height), squeeze=False, layout="constrained",
                      **kwargs)


def save(fig: Any, path: str) -> None:
  """Write ``fig`` as a PNG with fixed metadata (byte-stable) and close it."""
  fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata=METADATA)
  plt.close(fig)


def facets(items: Sequence[T], *, size: int = MAX_SERIES) -> list[list[T]]:
  """``items`` in consecutive groups of at most ``size``, as evenly filled as
  possible (26 series in 4 facets of 7, 7, 6, 6 rather than 8, 8, 8, 2)."""
  if size < 1:
    raise ValueError(f"size must be at least 1, got {size}")
  count = max(1, math.ceil(len(items) / size))
  base, extra = divmod(len(items), count)
  groups, start = [], 0
  for i in range(count):
    stop = start + base + (i < extra)
    groups.append(list(items[start:stop]))
    start = stop
  return groups


def grid_shape(count: int, *, max_cols: int) -> tuple[int, int]:
  """``(rows, cols)`` of a grid for ``count`` panels, at most ``max_cols`` wide."""
  cols = max(1, min(count, max_cols))
  return math.ceil(count / cols), cols


def legend_outside(ax: Any, *, title: str | None = None, **kwargs: Any) -> None:
  """A legend to the right of ``ax``, off the data."""
  handles, labels = ax.get_legend_handles_labels()
  if handles:
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
              title=title, **kwargs)


def log_axis(ax: Any, *, which: str, label: str,
             subs: Sequence[float] = (1.0, 2.0, 5.0)) -> None:
  """Make ``ax``'s ``which`` (``"x"`` or ``"y"``) axis logarithmic, with
  plain-number ticks at ``subs`` times powers of ten, and label it once:
  ``label`` gets a single " (log scale)" however often this is called."""
  if which not in ("x", "y"):
    raise ValueError(f"which must be 'x' or 'y', got {which!r}")
  getattr(ax, f"set_{which}scale")("log")
  axis = getattr(ax, f"{which}axis")
  axis.set_major_locator(LogLocator(subs=subs))
  axis.set_major_formatter(COMPACT)
  axis.set_minor_formatter(NullFormatter())
  axis.set_label_text(log_label(label))


def log_label(label: str) -> str:
  """``label`` with one trailing " (log scale)"."""
  suffix = " (log scale)"
  while label.endswith(suffix):
    label = label[:-len(suffix)]
  return label + suffix


def clipped_error(mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
  """Asymmetric error bars ``(2, n)`` of mean -+ std for non-negative
  quantities (errors, losses, seconds): the lower bar stops at 0."""
  mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
  return np.stack([np.minimum(std, np.maximum(mean, 0.0)), std])
