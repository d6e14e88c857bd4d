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
from convnets.experiment.report import p_value, percent
from convnets.experiment.spec import Figure
from convnets.experiment.stats import direction, pair, per_seed

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


def findings(variants: Sequence[Record], setting: Callable[[Record], str], baseline: str,
             not_shown: str) -> str:
  """Markdown ``### What this shows``: per family, every setting against the
  family's ``baseline`` setting by Welch's t-test on per-seed test errors
  (within a network, not across: the runner's reference is one variant of
  one family), the family's best setting, whether the families agree on it,
  and the experiment's ``not_shown`` caveat."""
  lines = ["### What this shows", ""]
  best = {}
  for family in families(variants):
    members = {setting(v): v for v in variants if v["family"] == family}
    best[family] = min(members, key=lambda name: members[name]["test_error"]["mean"])
    if baseline not in members:
      continue
    base = members[baseline]
    # An untestable pair (one seed) cannot be called different: it counts as level.
    by_direction: dict[str, list[str]] = {"lower": [], "higher": [], "level": []}
    for name, v in members.items():
      if name == baseline:
        continue
      c = pair(per_seed(v), per_seed(base))
      text = f"{name} ({100 * c['difference']:+.2f} points, p = {p_value(c['p'])})"
      by_direction.get(direction(c), by_direction["level"]).append(text)
    lines.append(
        f"- {family}, against {baseline} ({percent(base['test_error']['mean'], None)}%): "
        + "; ".join(f"{words}: {', '.join(by_direction[kind])}" for kind, words in (
            ("lower", "lower error beyond seed noise"), ("higher", "higher error beyond seed noise"),
            ("level", "within seed noise")) if by_direction[kind])
        + f". Lowest mean: {best[family]}.")
  if len(best) > 1:
    same = len(set(best.values())) == 1
    lines.append("- The networks " + ("agree" if same else "disagree") + " on the setting with "
                 "the lowest mean error" + ("" if same else " (" + ", ".join(
                     f"{family}: {name}" for family, name in best.items()) + ")") + "; the "
                 "Discussion says how large a difference the seeds can resolve.")
  lines.append(f"- Not shown: {not_shown}")
  return "\n".join(lines)


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
