"""Experiments that cross two factors: a *setting* (a transfer function, a
preprocessing) tried in each *family* of networks (an MLP, a ConvNet).

The runner's table and figures list variants one by one; here the same
records are arranged as a setting x family table and as one learning-curve
figure per family, so that settings compare within a network and networks
across a setting.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Sequence

from convnets.experiment import plots
from convnets.experiment.report import percent
from convnets.experiment.spec import Figure

Record = Mapping[str, Any]


def families(variants: Sequence[Record]) -> list[str]:
  """The families of ``variants``, in order of first appearance."""
  return list(dict.fromkeys(v["family"] for v in variants))


def table(variants: Sequence[Record], setting: Callable[[Record], str], title: str) -> str:
  """Markdown: one row per setting, one test-error column per family (mean
  ± std over seeds, %), the lowest of each column in bold; a dash where a
  family was not run with that setting."""
  columns = families(variants)
  cells = {(setting(v), v["family"]): v["test_error"] for v in variants}
  rows = list(dict.fromkeys(setting(v) for v in variants))
  best = {f: min((cells[r, f]["mean"] for r in rows if (r, f) in cells), default=None)
          for f in columns}

  def cell(row: str, family: str) -> str:
    if (row, family) not in cells:
      return "–"
    error = cells[row, family]
    text = percent(error["mean"], error["std"])
    return f"**{text}**" if error["mean"] == best[family] else text

  lines = [f"| {title} | " + " | ".join(f"{f} test error (%)" for f in columns) + " |",
           "|---|" + "---:|" * len(columns)]
  lines += [f"| {row} | " + " | ".join(cell(row, f) for f in columns) + " |" for row in rows]
  return "\n".join(lines)


def section(heading: str, variants: Sequence[Record], setting: Callable[[Record], str],
            title: str, remark: str) -> str:
  """Markdown: ``### heading``, the :func:`table` of ``setting`` against family,
  and its legend followed by the experiment's ``remark`` on it."""
  return "\n".join([f"### {heading}", "", table(variants, setting, title), "",
                    f"Mean ± std over seeds; the lowest of each column in bold. {remark}"])


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
