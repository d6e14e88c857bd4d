"""How numbers read in the reports: error rates in percent, p-values,
spreads over seeds, units (:mod:`convnets.experiment.values`)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from convnets.experiment import stats
from convnets.experiment.values import Cell

SUFFIX = {"%": "%", "points": " points"}


def percent(mean: float | None, std: float | None) -> str:
  """An error rate in percent, ``"0.93 ± 0.05"`` (no ``±`` for one seed, a
  dash for none: every seed diverged)."""
  if mean is None:
    return "–"
  return f"{100 * mean:.2f}" + ("" if std is None else f" ± {100 * std:.2f}")


def p_value(p: float | None) -> str:
  return "n/a" if p is None else (f"{p:.1e}" if p < 1e-3 else f"{p:.3f}")


def scalar(x: float, unit: str, signed: bool = True) -> str:
  """One number: a fraction in percent to 0.01 (a difference in points with
  its sign), a whole number or one of 100 or more to the unit with thousands
  separators, else 3 significant digits."""
  if unit in SUFFIX:
    return f"{100 * x:+.2f}" if unit == "points" and signed else f"{100 * x:.2f}"
  return f"{x:,.0f}" if float(x).is_integer() or abs(x) >= 100 else f"{x:.3g}"


def is_number(cell: Cell) -> bool:
  return not (cell is None or isinstance(cell, str))


def mean_std(cell: Cell) -> tuple[float | None, float | None]:
  """A numeric cell's mean and sample std (None for a single number)."""
  if isinstance(cell, Mapping):
    return cell["mean"], cell["std"]
  if isinstance(cell, Sequence):
    s = stats.spread(cell)
    return s["mean"], s["std"]
  return cell, None


def number(cell: Cell, unit: str = "") -> str:
  """A cell as the tables show it: ``"1.28 ± 0.06"`` for a spread or one
  value per seed (the std to the mean's last digit), a word as it is,
  ``"–"`` for nothing."""
  if not is_number(cell):
    return "–" if cell is None else cell
  mean, std = mean_std(cell)
  if mean is None:  # a spread of nothing: every seed diverged
    return "–"
  text = scalar(mean, unit)
  if std is None:
    return text
  if unit in SUFFIX:
    return f"{text} ± {scalar(std, unit, signed=False)}"
  # The std to the mean's last digit: "1.77 ± 0.02", "177 ± 34".
  decimals = len(text.partition(".")[2]) if "e" not in text else 3
  return f"{text} ± {std:,.{decimals}f}"


def heading(column: str, unit: str) -> str:
  """A column's heading with its unit: ``"test error (%)"``."""
  return f"{column} ({unit})" if unit in SUFFIX else column


def with_unit(cell: Cell, unit: str) -> str:
  """:func:`number` followed by its unit: ``"1.28%"``, ``"+0.11 points"``."""
  return number(cell, unit) + SUFFIX.get(unit, "")


def difference(x: float, unit: str) -> str:
  """A difference of two values in ``unit``, with its sign: ``"+0.11 points"``
  for percentages, ``"-0.0754"`` for plain numbers."""
  if unit in SUFFIX:
    return with_unit(x, "points")
  return f"{x:+.3g}"


def epochs(results: Mapping[str, Any]) -> str:
  """``"12 epochs"``, or ``"20 to 30 epochs"`` when variants set their own."""
  counts = sorted({v["epochs"] for v in results["variants"]})
  if len(counts) > 1:
    return f"{counts[0]} to {counts[-1]} epochs"
  return f"{counts[0]} epoch{'s' if counts[0] != 1 else ''}"


def escape(text: str) -> str:
  """``text`` safe in a Markdown table cell (``|w|`` would end the cell)."""
  return text.replace("|", "\\|")
