"""The generated part of a report's discussion: what the comparisons say.

The same few paragraphs for every experiment, from numbers alone: which
variant is best and worst; which differences from the reference exceed
seed-to-seed noise by Welch's test and which do not, with how large a
difference the seeds could have resolved; the same for the experiment's own
comparisons (:class:`convnets.experiment.values.Comparison`); the training
cost. What the numbers mean for the question is the reader's, helped by the
experiment's text (its method says what to look for).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from convnets.experiment import stats
from convnets.experiment.formats import difference, p_value, percent
from convnets.experiment.values import Comparison

Results = Mapping[str, Any]


def _error(variant: Mapping[str, Any]) -> str:
  return percent(variant["test_error"]["mean"], variant["test_error"]["std"]) + "%"


def _listing(items: Sequence[str]) -> str:
  return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _extremes(variants: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
  """The variants of the lowest and the highest mean test error, of those
  with one (a variant whose every seed diverged has none)."""
  tested = [v for v in variants if v["test_error"]["mean"] is not None] or list(variants)
  mean = lambda v: v["test_error"]["mean"] or 0.0
  return min(tested, key=mean), max(tested, key=mean)


def power(results: Results) -> str:
  """What the test can detect with this many seeds and this much noise."""
  n = min(v["test_error"]["n"] for v in results["variants"])
  typical = stats.typical([v["test_error"]["std"] for v in results["variants"]])
  if typical is None or n < 2:
    return ""
  smallest = stats.detectable(typical, n, results["test"]["alpha"])
  m, alpha = len(results["comparisons"]), results["test"]["alpha"]
  return (f"With {n} seeds per variant and a typical seed-to-seed standard deviation of "
          f"{100 * typical:.2f} points, a difference must be about {100 * smallest:.2f} points "
          f"to be detected at p < {alpha:g}, so \"within noise\" means unresolved, not shown to "
          "be zero" + (f"; and {m} tests at {alpha:g} raise about {m * alpha:.2g} false alarms "
                       "by chance alone." if m > 1 else "."))


# Beyond this many differences, and more than within noise, name the ones
# within noise instead.
LISTED = 4


def verdicts(items: Sequence[tuple[str, str, bool | None]], noun: str) -> str:
  """Which of ``items``, ``(name, its difference and p, beyond noise)``,
  exceed seed-to-seed noise, as a clause: ``"2 of the 6 {noun} differ beyond
  seed-to-seed noise: a (+0.30 points, p = 0.010) and b (...); the other 4
  are within it"``; with many, the ones within noise are named instead, and
  with many of both, none."""
  beyond = [f"{name} ({detail})" for name, detail, significant in items if significant]
  within = [name for name, _, significant in items if not significant]
  k, m = len(beyond), len(items)
  if m == 1:
    (name, detail, significant), = items
    return f"{name} ({detail}) is {'beyond' if significant else 'within'} seed-to-seed noise"
  if k == 0:
    return f"none of the {m} {noun} differs beyond seed-to-seed noise"
  if k == m:
    return (f"all {m} {noun} differ beyond seed-to-seed noise"
            + (f": {_listing(beyond)}" if k <= LISTED else ""))
  if k <= max(LISTED, m - k):
    rest = "the other one is" if m - k == 1 else f"the other {m - k} are"
    return (f"{k} of the {m} {noun} {'differs' if k == 1 else 'differ'} beyond seed-to-seed "
            f"noise: {_listing(beyond)}; {rest} within it")
  if m - k <= LISTED:
    return f"{k} of the {m} {noun} differ beyond seed-to-seed noise, all but {_listing(within)}"
  return (f"{k} of the {m} {noun} differ beyond seed-to-seed noise (the p column of the "
          "results table says which)")


def _bonferroni(strict: int, beyond: int, threshold: str) -> str:
  """How many of the ``beyond`` differences also pass the corrected ``threshold``."""
  what = f"the Bonferroni-corrected threshold {threshold}"
  if beyond == 1:
    return f"It {'also passes' if strict else 'does not pass'} {what}."
  if strict in (0, beyond):
    return f"{'None' if strict == 0 else 'All'} of them {'pass' if strict else 'passes'} {what}."
  return f"Of these, {strict} also pass {what}."


def against_reference(results: Results) -> str:
  """The best and worst variants, and the variants that differ from the
  reference beyond seed-to-seed noise."""
  variants, comparisons = results["variants"], results["comparisons"]
  best, worst = _extremes(variants)
  out = [f"**{best['label']}** has the lowest mean test error, {_error(best)}, and "
         f"**{worst['label']}** the highest, {_error(worst)}."]
  if not comparisons:
    return out[0]
  if all(c["p"] is None for c in comparisons.values()):
    return out[0] + (" With one seed per variant the seed-to-seed noise is unknown and no "
                     "difference can be tested; run with `--seeds=3` or more.")
  tested = [(v["label"], comparisons[v["name"]]) for v in variants
            if v["name"] in comparisons and comparisons[v["name"]]["p"] is not None]
  items = [(f"**{label}**", f"{100 * c['difference']:+.2f} points, p = {p_value(c['p'])}",
            c["significant"]) for label, c in tested]
  reference = next(v["label"] for v in variants if v["name"] == results["reference"])
  out.append(f"Against **{reference}** ({results['reference_reason']}), by Welch's t-test, "
             + verdicts(items, "other variants" if len(items) > 1 else "other variant") + ".")
  untested = len(comparisons) - len(tested)
  if untested:
    out.append(f"{'One other variant' if untested == 1 else f'{untested} other variants'} "
               "could not be tested (fewer than two seeds finished, or no spread).")
  beyond = [c for _, c in tested if c["significant"]]
  if beyond and len(comparisons) > 1:
    out.append(_bonferroni(sum(bool(c["bonferroni"]) for c in beyond), len(beyond),
                           f"p < {results['test']['alpha']:g}/{len(comparisons)}"))
  return " ".join(out + [power(results)]).strip()


def own_comparisons(comparisons: Sequence[Comparison]) -> str:
  """How many of the experiment's own comparisons exceed seed-to-seed
  noise, and which."""
  if not comparisons:
    return ""
  tests = [(c, stats.pair(c.a, c.b)) for c in comparisons]
  if all(t["p"] is None for _, t in tests):
    return (f"The {len(comparisons)} comparisons above need two or more seeds on each side, "
            "with some spread, to be tested.")
  items = [(c.description, f"{difference(t['difference'], c.unit)}, p = {p_value(t['p'])}",
            t["significant"]) for c, t in tests]
  return ("By Welch's t-test, "
          + verdicts(items, "comparisons above" if len(items) > 1 else "comparison above") + ".")


def cost(results: Results) -> str:
  """The cheapest and dearest variants' training time per epoch."""
  variants = results["variants"]
  if len(variants) < 2:
    return ""
  seconds = lambda v: v["seconds_per_epoch"]["mean"]
  fast, slow = min(variants, key=seconds), max(variants, key=seconds)
  return (f"Training took from {seconds(fast):.1f} s/epoch (**{fast['label']}**) to "
          f"{seconds(slow):.1f} s/epoch (**{slow['label']}**) on "
          f"{results['settings']['platform']}: wall-clock times, which grow when other jobs "
          "share the machine.")


def discussion(results: Results | None, comparisons: Sequence[Comparison],
               limitations: str) -> str:
  """The discussion's paragraphs, the experiment's limitations last; without
  ``results`` (runs that are no experiment's), the comparisons' alone."""
  parts = [against_reference(results) if results else "", own_comparisons(comparisons),
           cost(results) if results else "",
           f"**Limitations.** {limitations}" if limitations else ""]
  return "\n\n".join(p for p in parts if p)


def headline(results: Results, comparisons: Sequence[Comparison]) -> str:
  """One line for an overview table: the lowest mean test error, and how many
  differences, from the reference and among the experiment's own
  comparisons, exceed seed-to-seed noise."""
  variants, tested = results["variants"], results["comparisons"]
  best, _ = _extremes(variants)
  reference = next(v for v in variants if v["name"] == results["reference"])
  line = f"**{best['label']}** lowest, {_error(best)}"
  if tested:
    beyond = sum(bool(c["significant"]) for c in tested.values())
    if best is reference:
      line += f"; {beyond} of the {len(tested)} others differ from it beyond seed noise"
    else:
      line += (f" ({reference['label']}: {_error(reference)}); {beyond} of the {len(tested)} "
               f"others differ from {reference['label']} beyond seed noise")
  if comparisons:
    beyond = sum(bool(stats.pair(c.a, c.b)["significant"]) for c in comparisons)
    line += f"; {beyond} of its {len(comparisons)} own comparisons beyond noise"
  return line
