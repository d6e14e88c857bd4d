"""Seed-to-seed statistics: mean and spread, and Welch's t-test between variants.

Each variant is trained with a few seeds; the per-seed test errors are a
small sample of what that variant achieves. A difference between two
variants is called real only when it exceeds that seed-to-seed noise by the
test below; with 3 seeds per variant the test has little power, so "not
significant" means "not detected", never "equal".
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import stats

ALPHA = 0.05
TEST_NAME = ("Welch's two-sided t-test (unequal variances; scipy.stats.ttest_ind with "
             "equal_var=False) on per-seed test errors")


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
  """``{"mean", "std", "n"}``; ``std`` is the sample standard deviation
  (ddof=1), None for a single value."""
  x = np.asarray(values, dtype=np.float64)
  if not len(x):  # every seed diverged
    return {"mean": None, "std": None, "n": 0}
  return {"mean": float(x.mean()), "std": float(x.std(ddof=1)) if len(x) > 1 else None,
          "n": int(len(x))}


def welch(a: Sequence[float], b: Sequence[float]) -> dict[str, float | None]:
  """Welch's t-test of ``mean(a) == mean(b)``: ``{"t", "p"}``, both None when
  it is undefined (fewer than two values in a group, or no variance in either)."""
  if len(a) < 2 or len(b) < 2 or (np.var(a) == 0 and np.var(b) == 0):
    return {"t": None, "p": None}
  with warnings.catch_warnings():
    # Near-identical values (seeds that all failed alike) make scipy warn of
    # precision loss; the test is still defined and the spread says the rest.
    warnings.simplefilter("ignore", RuntimeWarning)
    result = stats.ttest_ind(a, b, equal_var=False)
  t, p = float(result.statistic), float(result.pvalue)
  return {"t": t if math.isfinite(t) else None, "p": p if math.isfinite(p) else None}


def finished(variant: Mapping[str, Any]) -> list[Mapping[str, Any]]:
  """The runs of a variant record in ``results.json`` that have a test error
  (a diverged run has none)."""
  return [run for run in variant["runs"] if run.get("test_error") is not None]


def per_seed(variant: Mapping[str, Any], key: str = "test_error") -> list[float]:
  """One value per seed of a variant record in ``results.json`` (its runs'),
  the diverged seeds (no value) left out."""
  return [run[key] for run in variant["runs"] if run.get(key) is not None]


def pair(a: Sequence[float], b: Sequence[float], alpha: float = ALPHA
         ) -> dict[str, float | bool | None]:
  """``a`` against ``b`` (per-seed values): ``difference`` (mean of a minus
  mean of b), Welch's ``t`` and ``p``, and ``significant`` (``p < alpha``;
  None when untestable)."""
  test = welch(a, b)
  difference = float(np.mean(a) - np.mean(b)) if len(a) and len(b) else None
  return {"difference": difference, **test,
          "significant": None if test["p"] is None else test["p"] < alpha}


def verdict(comparison: Mapping[str, Any]) -> str:
  """A :func:`pair` or :func:`compare` result in words: "beyond seed noise",
  "within seed noise", or "untested (one seed, or no spread)"."""
  if comparison["significant"] is None:
    return "untested (one seed, or no spread)"
  return "beyond seed noise" if comparison["significant"] else "within seed noise"


def direction(comparison: Mapping[str, Any]) -> str:
  """Where a :func:`pair` or :func:`compare` result puts ``a`` against ``b``:
  "higher" or "lower" (beyond seed noise), "level" (within it) or "untested"."""
  if comparison["significant"] is None:
    return "untested"
  if not comparison["significant"]:
    return "level"
  return "higher" if comparison["difference"] > 0 else "lower"


def compare(errors: dict[str, Sequence[float]], reference: str, alpha: float = ALPHA
            ) -> dict[str, dict[str, float | bool | None]]:
  """Test every variant's errors against ``reference``'s.

  Returns, per other variant: ``difference`` (its mean minus the reference's),
  ``t``, ``p``, ``significant`` (``p < alpha``; None when untestable) and
  ``bonferroni`` (``p < alpha / m`` for the ``m`` comparisons made).
  """
  others = [name for name in errors if name != reference]
  out = {}
  for name in others:
    test = pair(errors[name], errors[reference], alpha)
    out[name] = {"reference": reference, **test,
                 "bonferroni": None if test["p"] is None else test["p"] < alpha / len(others)}
  return out


def typical(stds: Sequence[float | None]) -> float | None:
  """The median of the standard deviations that are not zero or None: the
  typical seed-to-seed spread of several variants (a median, so that a
  variant with a diverged seed does not stand for all)."""
  stds = [s for s in stds if s]
  return float(np.median(stds)) if stds else None


def detectable(std: float, n: int, alpha: float = ALPHA) -> float | None:
  """The smallest difference of means that :func:`welch` calls significant
  at ``alpha`` between two groups of ``n`` values with standard deviation
  ``std``: with equal variances and sizes, ``t = difference / (std sqrt(2/n))``
  on ``2 (n - 1)`` degrees of freedom. None below two values per group."""
  if n < 2:
    return None
  return float(stats.t.ppf(1 - alpha / 2, 2 * (n - 1))) * std * math.sqrt(2 / n)


def power(difference: float, std: float, n: int, alpha: float = ALPHA) -> float | None:
  """The probability that the two-sided t-test at ``alpha`` finds a true
  difference of means ``difference`` between two groups of ``n`` values
  with standard deviation ``std`` (equal variances and sizes, as in
  :func:`detectable`): ``P(|T| > t_crit)`` with ``T`` noncentral t on
  ``2 (n - 1)`` degrees of freedom and noncentrality
  ``difference / (std sqrt(2/n))``. None below two values per group."""
  if n < 2 or std <= 0:
    return None
  df = 2 * (n - 1)
  shift = difference / (std * math.sqrt(2 / n))
  critical = stats.t.ppf(1 - alpha / 2, df)
  return float(stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift))


def seeds_for(difference: float, std: float, wanted: float = 0.8, alpha: float = ALPHA,
              most: int = 1000) -> int | None:
  """The fewest seeds per variant for which :func:`power` of ``difference``
  reaches ``wanted``; None if ``most`` seeds do not."""
  for n in range(2, most + 1):
    if (power(difference, std, n, alpha) or 0.0) >= wanted:
      return n
  return None
