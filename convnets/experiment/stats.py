"""Seed-to-seed statistics: mean and spread, and Welch's t-test between variants.

Each variant is trained with a few seeds; the per-seed test errors are a
small sample of what that variant achieves. A difference between two
variants is called real only when it exceeds that seed-to-seed noise by the
test below; with 3 seeds per variant the test has little power, so "not
significant" means "not detected", never "equal".
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats

ALPHA = 0.05
TEST_NAME = ("Welch's two-sided t-test (unequal variances; scipy.stats.ttest_ind with "
             "equal_var=False) on per-seed test errors")


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
  """``{"mean", "std", "n"}``; ``std`` is the sample standard deviation
  (ddof=1), None for a single value."""
  x = np.asarray(values, dtype=np.float64)
  return {"mean": float(x.mean()), "std": float(x.std(ddof=1)) if len(x) > 1 else None,
          "n": int(len(x))}


def welch(a: Sequence[float], b: Sequence[float]) -> dict[str, float | None]:
  """Welch's t-test of ``mean(a) == mean(b)``: ``{"t", "p"}``, both None when
  it is undefined (fewer than two values in a group, or no variance in either)."""
  if len(a) < 2 or len(b) < 2 or (np.var(a) == 0 and np.var(b) == 0):
    return {"t": None, "p": None}
  result = stats.ttest_ind(a, b, equal_var=False)
  t, p = float(result.statistic), float(result.pvalue)
  return {"t": t if math.isfinite(t) else None, "p": p if math.isfinite(p) else None}


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
    test = welch(errors[name], errors[reference])
    p = test["p"]
    out[name] = {
        "reference": reference,
        "difference": float(np.mean(errors[name]) - np.mean(errors[reference])),
        **test,
        "significant": None if p is None else p < alpha,
        "bonferroni": None if p is None else p < alpha / len(others),
    }
  return out
