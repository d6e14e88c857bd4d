"""Experiments that cross two factors: a *setting* (a transfer function, a
preprocessing) tried in each *family* of networks (an MLP, a ConvNet).

The runner's table and figures list variants one by one; here the same
records are arranged as a setting x family grid, as comparisons of each
setting with a baseline within its family, and as one learning-curve figure
per family, so that settings compare within a network and networks across a
setting.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Sequence

from convnets.experiment import plots
from convnets.experiment.spec import Figure
from convnets.experiment.stats import per_seed
from convnets.experiment.values import Comparison, Grid

Record = Mapping[str, Any]


def families(variants: Sequence[Record]) -> list[str]:
  """The families of ``variants``, in order of first appearance."""
  return list(dict.fromkeys(v["family"] for v in variants))


def grid(variants: Sequence[Record], setting: Callable[[Record], str], corner: str) -> Grid:
  """The test errors as one row per setting and one column per family
  (per seed; the lowest mean of each column in bold); nothing where a family
  was not run with that setting."""
  columns = families(variants)
  cells = {(setting(v), v["family"]): per_seed(v) for v in variants}
  rows = list(dict.fromkeys(setting(v) for v in variants))
  return Grid("test_error_by_family", f"{corner.capitalize()} against network", rows,
              [f"{f} test error" for f in columns],
              [[cells.get((row, f)) for f in columns] for row in rows], corner=corner,
              note="Mean ± std over seeds; the lowest of each column in bold.", lowest_bold=True)


def comparisons(variants: Sequence[Record], setting: Callable[[Record], str],
                baseline: str) -> list[Comparison]:
  """Within each family, every setting's test errors against the family's
  ``baseline`` setting's (within a network, not across: the runner's
  reference is one variant of one family)."""
  out = []
  for family in families(variants):
    members = {setting(v): v for v in variants if v["family"] == family}
    if baseline not in members:
      continue
    out += [Comparison(f"{family}_{name}", f"{family}: {name} against {baseline}",
                       per_seed(v), per_seed(members[baseline]))
            for name, v in members.items() if name != baseline]
  return out


def curves(variants: Sequence[Record], workdir: str, title: str) -> list[Figure]:
  """One learning-curve figure per family (``curves_<family>.png``), drawn
  by :func:`convnets.experiment.plots.learning_curves`."""
  figures = []
  for family in families(variants):
    file = f"curves_{family.lower().replace(' ', '_')}.png"
    members = [v for v in variants if v["family"] == family]
    plots.learning_curves(members, os.path.join(workdir, file), f"{title}: {family}")
    figures.append(Figure(file, f"{family}: validation error and training loss against "
                          "epoch, one line per setting (mean over seeds, band ±1 std)."))
  return figures
