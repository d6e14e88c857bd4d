"""The same question on another data set: how an experiment's ranking of its
variants on one data set (e.g. Fashion-MNIST) compares with its ranking on
MNIST, and which differences in order are beyond seed noise on both.

A method "makes no difference" on MNIST may only mean MNIST is too easy to
separate the methods; re-asked on harder data, the same variants either keep
their order (the answer carries over), swap places within noise (still no
answer), or swap places beyond noise on both data sets (the answer depends
on the data). The values here say which, from the two ``results.json``.
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

from scipy import stats as scipy_stats

from convnets.data.mnist import IDX_DATASETS
from convnets.experiment import stats
from convnets.experiment.values import Finding, Grid, Value

Results = Mapping[str, Any]
MNIST = "mnist"


def dataset(results: Results) -> str:
  """The data set an experiment ran on (``config.data.name``; results
  recorded before data sets had names are MNIST's)."""
  data = results["settings"]["config"].get("data")
  return data.get("name", MNIST) if isinstance(data, Mapping) else MNIST


def title(results: Results) -> str:
  """The data set's name as people write it ("Fashion-MNIST"; a tfds set's own name)."""
  name = dataset(results)
  known = IDX_DATASETS.get(name)
  return known.title if known is not None else name.removeprefix("tfds:")


def naming(results: Results, words: str) -> str:
  """``words`` and the data set's title (``", re-asked on Fashion-MNIST"``)
  for results on another data set than MNIST; "" for MNIST's, whose titles
  name no data set."""
  return "" if dataset(results) == MNIST else f"{words}{title(results)}"


def _errors(results: Results) -> dict[str, list[float]]:
  return {v["name"]: stats.per_seed(v) for v in results["variants"] if stats.per_seed(v)}


def order_changes(here: Mapping[str, Sequence[float]], there: Mapping[str, Sequence[float]],
                  alpha: float = stats.ALPHA) -> list[tuple[str, str, bool]]:
  """The pairs of variants (by name, ``a`` lower on ``here``) whose order of
  mean test error is the other way round on ``there``, each with whether the
  difference is beyond noise (Welch, ``alpha``) on both data sets."""
  mean = lambda xs: sum(xs) / len(xs)
  changes = []
  for a, b in itertools.combinations(sorted(set(here) & set(there)), 2):
    if mean(here[a]) > mean(here[b]):
      a, b = b, a
    if mean(there[a]) > mean(there[b]):
      both = all(stats.pair(side[a], side[b], alpha)["significant"] for side in (here, there))
      changes.append((a, b, bool(both)))
  return changes


def findings(results: Results, mnist: Results) -> list[Finding]:
  """What re-asking ``mnist``'s experiment on ``results``' data set found:
  the two rankings side by side, their rank correlation, and the pairs that
  changed order (and how many of those beyond noise on both)."""
  here, there = _errors(results), _errors(mnist)
  names = [v["name"] for v in results["variants"] if v["name"] in here and v["name"] in there]
  if len(names) < 2:
    return []
  labels = {v["name"]: v["label"] for v in results["variants"]}
  mean = lambda xs: sum(xs) / len(xs)
  rank = lambda side: {n: i + 1 for i, n in enumerate(sorted(names, key=lambda n: mean(side[n])))}
  rank_here, rank_there = rank(here), rank(there)
  spread = lambda side, n: stats.spread(side[n])
  name = dataset(results)
  grid = Grid("rankings", f"The variants on {name} and on MNIST", [labels[n] for n in names],
              [f"{name} test error", f"{name} rank", "MNIST test error", "MNIST rank"],
              [[spread(here, n), rank_here[n], spread(there, n), rank_there[n]] for n in names],
              units={f"{name} rank": "", "MNIST rank": ""}, corner="variant",
              note="mean ± std over seeds; rank 1 is the lowest mean test error")
  rho = scipy_stats.spearmanr([rank_here[n] for n in names], [rank_there[n] for n in names])
  changes = order_changes({n: here[n] for n in names}, {n: there[n] for n in names})
  return [grid,
          Value("rank_correlation", f"Spearman's rank correlation of the two orders ({name} "
                "against MNIST)", float(rho.statistic)),
          Value("order_changes", "pairs of variants in the other order on MNIST", len(changes)),
          Value("order_changes_beyond_noise", "of those, pairs beyond seed noise on both data "
                "sets (Welch, p < 0.05 on each)", sum(both for _, _, both in changes))]
