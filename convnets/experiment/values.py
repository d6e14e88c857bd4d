"""What an experiment's analysis finds, as named values: numbers and what
they are, never sentences (:mod:`convnets.experiment.report` renders them).

An experiment's ``summarise(results)`` returns a sequence of these, computed
from what ``results.json`` holds, so that a committed ``results.json`` alone
re-renders its report (as big_vision's evaluators yield ``(name, value)``
pairs, to be logged by whoever runs them):

* :class:`Value`: one quantity, a number or one number per seed;
* :class:`Comparison`: per-seed values of ``a`` against ``b``, which the
  report tests (Welch) and counts in its discussion;
* :class:`Grid`: a table of cells with named rows and columns.

Units: ``"%"``, a fraction shown in percent (0.0128 -> 1.28);
``"points"``, a difference of fractions in percentage points (+0.11);
``""``, a plain number. This module imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence, Union

Sample = Sequence[float]      # one value per seed
Spread = Mapping[str, Any]    # convnets.experiment.stats.spread's {"mean", "std", "n"}
# A number, one per seed, a spread, a word (e.g. a verdict), or nothing (shown as "–").
Cell = Union[float, int, str, Sample, Spread, None]


@dataclasses.dataclass(frozen=True)
class Value:
  """One named quantity, e.g. ``Value("learned_p", "the learned exponent p",
  [1.77, 1.75, 1.79])``; one value per seed reads as mean ± std and each seed."""
  name: str
  description: str
  value: Cell
  unit: str = ""


@dataclasses.dataclass(frozen=True)
class Comparison:
  """``a`` against ``b``, one value per seed each (e.g. the test errors of a
  variant with batch normalisation and of the same without). ``description``
  names both, ``a`` first: "with BN against without, simple ConvNet, lr 0.01"."""
  name: str
  description: str
  a: Sample
  b: Sample
  unit: str = "%"


@dataclasses.dataclass(frozen=True)
class Grid:
  """A table: ``cells[i][j]`` is row ``rows[i]``'s value in column ``columns[j]``.

  Attributes:
    units: per column, its unit (``"%"`` for a column not named).
    corner: the heading of the row-label column.
    note: the table's legend (what the cells are), shown below it.
    lowest_bold: the lowest number of each column in bold.
  """
  name: str
  title: str
  rows: Sequence[str]
  columns: Sequence[str]
  cells: Sequence[Sequence[Cell]]
  units: Mapping[str, str] = dataclasses.field(default_factory=dict)
  corner: str = ""
  note: str = ""
  lowest_bold: bool = False

  def __post_init__(self) -> None:
    if len(self.cells) != len(self.rows) or any(len(r) != len(self.columns) for r in self.cells):
      raise ValueError(f"grid {self.name!r}: cells are not {len(self.rows)} rows of "
                       f"{len(self.columns)} columns")

  def unit(self, column: str) -> str:
    return self.units.get(column, "%")


Finding = Union[Value, Comparison, Grid]


def short_key(dotted: str) -> str:
  """A config key without its section: ``"model_kwargs.pooling"`` (the flat
  config of the committed runs) and ``"model.pooling"`` (the nested one) are
  both ``"pooling"``; a section's ``name`` is the section's (``"augment.name"``
  is ``"augment"``, as ``"augment"`` was)."""
  parts = dotted.split(".")
  return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]


def flat(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
  """``settings`` (nested sections, dotted keys, or both) as one level of
  :func:`short_key` keys; a leaf of a later section wins a clash."""
  out: dict[str, Any] = {}
  for key, value in settings.items():
    dotted = prefix + key
    if isinstance(value, Mapping):
      out.update(flat(value, dotted + "."))
    else:
      out[short_key(dotted)] = value
  return out


def setting(record: Mapping[str, Any], key: str) -> Any:
  """A variant record's override ``key`` (a :func:`short_key`), whatever
  config section holds it. KeyError if the variant does not override it."""
  overrides = flat(record["overrides"])
  if key not in overrides:
    raise KeyError(f"variant {record['name']!r} has no override {key!r}")
  return overrides[key]
