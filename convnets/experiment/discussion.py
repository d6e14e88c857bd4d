"""The generated part of a report's discussion: what the comparisons say, in prose.

The same few paragraphs for every experiment, written from numbers alone:
which variant is best and worst; which differences from the reference exceed
seed-to-seed noise by Welch's t-test, how large they are (in points and
relative to the reference's error) and which do not, with how large a
difference the seeds could have resolved; the same for the experiment's own
comparisons (:class:`convnets.experiment.values.Comparison`); the training
cost; and a conclusion that says what the evidence does and does not settle.
What the numbers mean for the question is the reader's, helped by the
experiment's text (its method says what to look for).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from convnets.experiment import stats
from convnets.experiment.formats import difference, epochs, p_value, percent
from convnets.experiment.values import Comparison, Value

Results = Mapping[str, Any]
Variant = Mapping[str, Any]

# Beyond this many differences, and more than within noise, name the ones
# within noise instead.
LISTED = 4
WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def count(n: int) -> str:
  """A count as prose writes it: ``"three"``, ``"12"``."""
  return WORDS[n] if 0 <= n < len(WORDS) else str(n)


def _sentence(text: str) -> str:
  return text[:1].upper() + text[1:]


def _error(variant: Variant) -> str:
  return percent(variant["test_error"]["mean"], variant["test_error"]["std"]) + "%"


def _listing(items: Sequence[str]) -> str:
  return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def extremes(variants: Sequence[Variant]) -> tuple[Variant, Variant]:
  """The variants of the lowest and the highest mean test error, of those
  with one (a variant whose every seed diverged has none)."""
  tested = [v for v in variants if v["test_error"]["mean"] is not None] or list(variants)
  mean = lambda v: v["test_error"]["mean"] or 0.0
  return min(tested, key=mean), max(tested, key=mean)


def reference_variant(results: Results) -> Variant:
  return next(v for v in results["variants"] if v["name"] == results["reference"])


def effect(change: float, base: float | None) -> str:
  """A difference of error rates as a size: ``"+0.30 points, 25% more errors"``
  (relative to ``base``, the reference's error, where it has one)."""
  points = f"{100 * change:+.2f} points"
  if not base:
    return points
  relative = 100 * abs(change) / base
  return f"{points}, {relative:.0f}% {'more' if change > 0 else 'fewer'} errors"


def verdicts(items: Sequence[tuple[str, str, bool | None]], noun: str) -> str:
  """Which of ``items``, ``(name, its difference and p, beyond noise)``,
  exceed seed-to-seed noise, as a clause: ``"two of the six {noun} exceed
  seed-to-seed noise, a (+0.30 points, p = 0.010) and b (...), while the
  other four lie within it"``; with many, the ones within noise are named
  instead, and with many of both, none."""
  beyond = [f"{name} ({detail})" for name, detail, significant in items if significant]
  within = [name for name, _, significant in items if not significant]
  k, m = len(beyond), len(items)
  if m == 1:
    (name, detail, significant), = items
    return f"{name} ({detail}) is {'beyond' if significant else 'within'} seed-to-seed noise"
  if k == 0:
    return f"{'neither' if m == 2 else 'none'} of the {count(m)} {noun} exceeds seed-to-seed noise"
  if k == m:
    return (f"all {count(m)} {noun} exceed seed-to-seed noise"
            + (f": {_listing(beyond)}" if k <= LISTED else ""))
  if k <= max(LISTED, m - k):
    rest = "the remaining one lies" if m - k == 1 else f"the other {count(m - k)} lie"
    return (f"{count(k)} of the {count(m)} {noun} {'exceeds' if k == 1 else 'exceed'} "
            f"seed-to-seed noise, {_listing(beyond)}, while {rest} within it")
  if m - k <= LISTED:
    return (f"{count(k)} of the {count(m)} {noun} exceed seed-to-seed noise; only "
            f"{_listing(within)} {'lies' if m - k == 1 else 'lie'} within it")
  return (f"{count(k)} of the {count(m)} {noun} exceed seed-to-seed noise (the p column of "
          "the results table says which)")


def _bonferroni(strict: int, beyond: int, threshold: str) -> str:
  """How many of the ``beyond`` differences also pass the corrected ``threshold``."""
  what = f"the Bonferroni-corrected threshold {threshold}, which allows for the number of tests"
  if beyond == 1:
    return f"That difference {'also passes' if strict else 'does not pass'} {what}."
  if strict in (0, beyond):
    return f"{'None' if strict == 0 else 'All'} of them {'pass' if strict else 'passes'} {what}."
  return f"Of these, {count(strict)} also pass {what}."


def _tested(results: Results) -> list[tuple[Variant, Mapping[str, Any]]]:
  comparisons = results["comparisons"]
  return [(v, comparisons[v["name"]]) for v in results["variants"]
          if v["name"] in comparisons and comparisons[v["name"]]["p"] is not None]


def against_reference(results: Results) -> str:
  """The best and worst variants, and which differ from the reference beyond
  seed-to-seed noise, with the sizes of those differences."""
  variants, comparisons = results["variants"], results["comparisons"]
  best, worst = extremes(variants)
  out = [f"The lowest mean test error, {_error(best)}, belongs to **{best['label']}**, and the "
         f"highest, {_error(worst)}, to **{worst['label']}**."]
  if not comparisons:
    return out[0]
  if all(c["p"] is None for c in comparisons.values()):
    return out[0] + (" With one seed per variant the seed-to-seed noise is unknown, so no "
                     "difference can be tested; run with `--seeds=3` or more.")
  reference = reference_variant(results)
  base = reference["test_error"]["mean"]
  tested = _tested(results)
  items = [(f"**{v['label']}**", f"{effect(c['difference'], base)}; p = {p_value(c['p'])}",
            c["significant"]) for v, c in tested]
  noun = "other variants" if len(items) > 1 else "other variant"
  out.append(f"Measured against **{reference['label']}** ({results['reference_reason']}) with "
             f"Welch's t-test, {verdicts(items, noun)}.")
  untested = len(comparisons) - len(tested)
  if untested:
    out.append(f"{_sentence(count(untested))} other variant{'s' if untested > 1 else ''} could "
               "not be tested (fewer than two seeds finished, or no spread).")
  beyond = [c for _, c in tested if c["significant"]]
  if beyond and len(comparisons) > 1:
    out.append(_bonferroni(sum(bool(c["bonferroni"]) for c in beyond), len(beyond),
                           f"p < {results['test']['alpha']:g}/{len(comparisons)}"))
  return " ".join(out)


# The smallest difference of test error a re-asked question should resolve, and with
# what probability (the power conventionally asked of an experiment).
RELEVANT_DIFFERENCE = 0.003
POWER = 0.8


def power(results: Results) -> str:
  """What the test can resolve with this many seeds and this much noise."""
  n = min(v["test_error"]["n"] for v in results["variants"])
  typical = stats.typical([v["test_error"]["std"] for v in results["variants"]])
  if typical is None or n < 2:
    return ""
  smallest = stats.detectable(typical, n, results["test"]["alpha"])
  m, alpha = len(results["comparisons"]), results["test"]["alpha"]
  text = (f"How much these verdicts can say is set by the seeds. With {count(n)} seeds per "
          f"variant and a typical seed-to-seed standard deviation of {100 * typical:.2f} points, "
          f"only differences of about {100 * smallest:.2f} points or more reach p < {alpha:g}, so "
          "a difference within noise is unresolved rather than shown to be zero.")
  chance = stats.power(RELEVANT_DIFFERENCE, typical, n, alpha)
  needed = stats.seeds_for(RELEVANT_DIFFERENCE, typical, POWER, alpha)
  text += (f" A true difference of {100 * RELEVANT_DIFFERENCE:.1f} points would be detected "
           f"with probability {chance:.0%} at this spread; {POWER:.0%} power takes "
           + (f"{count(needed)} seeds per variant." if needed else "more seeds than is practical."))
  if m > 1:
    text += (f" With {m} tests at that level, about {m * alpha:.2g} false alarms are expected "
             "by chance alone.")
  return text


def own_comparisons(comparisons: Sequence[Comparison]) -> str:
  """How many of the experiment's own comparisons exceed seed-to-seed
  noise, and which."""
  if not comparisons:
    return ""
  tests = [(c, stats.pair(c.a, c.b)) for c in comparisons]
  if all(t["p"] is None for _, t in tests):
    return (f"The {count(len(comparisons))} comparisons above need two or more seeds on each "
            "side, with some spread, to be tested.")
  items = [(c.description, f"{difference(t['difference'], c.unit)}, p = {p_value(t['p'])}",
            t["significant"]) for c, t in tests]
  noun = "comparisons made above" if len(items) > 1 else "comparison made above"
  return f"Of the experiment's own tests, by Welch's t-test, {verdicts(items, noun)}."


def cost(results: Results) -> str:
  """The cheapest and dearest variants' training time per epoch."""
  variants = results["variants"]
  if len(variants) < 2:
    return ""
  seconds = lambda v: v["seconds_per_epoch"]["mean"]
  fast, slow = min(variants, key=seconds), max(variants, key=seconds)
  return (f"Training took between {seconds(fast):.1f} s/epoch (**{fast['label']}**) and "
          f"{seconds(slow):.1f} s/epoch (**{slow['label']}**) on "
          f"{results['settings']['platform']}; these are wall-clock times, which grow when "
          "other jobs share the machine.")


def _worse(worse: int, tested: int) -> str:
  """How many of the ``tested`` variants are measurably worse than the reference."""
  if tested == 1:
    return f"the one variant tested against it is{'' if worse else ' not'} measurably worse"
  if not worse:
    return (f"{'neither' if tested == 2 else 'none'} of the {count(tested)} variants tested "
            "against it is measurably worse")
  return (f"{count(worse)} of the {count(tested)} variants tested against it "
          f"{'is' if worse == 1 else 'are'} measurably worse")


def conclusion(results: Results) -> str:
  """What the comparisons with the reference settle, and under which budget."""
  tested = _tested(results)
  if not tested:
    return ""
  best, _ = extremes(results["variants"])
  reference = reference_variant(results)
  worse = [v for v, c in tested if c["significant"] and c["difference"] > 0]
  better = [v for v, c in tested if c["significant"] and c["difference"] < 0]
  n = min(v["test_error"]["n"] for v in results["variants"])
  if best is reference:
    text = f"**{reference['label']}** has the lowest mean test error"
  elif best in better:
    change = results["comparisons"][best["name"]]["difference"]
    text = (f"**{best['label']}** improves on **{reference['label']}** beyond seed noise "
            f"({effect(change, reference['test_error']['mean'])})")
  elif better:
    text = (_listing([f"**{v['label']}**" for v in better])
            + f" improve{'s' if len(better) == 1 else ''} on **{reference['label']}** beyond "
            "seed noise")
  else:
    text = (f"No variant is measurably better than **{reference['label']}**: the lowest mean, "
            f"**{best['label']}**'s, is within seed noise of it")
  rest = len(tested) - len(worse) - len(better)
  text += "; " + _worse(len(worse), len(tested))
  if rest and (worse or better):
    text += f", and {count(rest)} cannot be told apart from it with {count(n)} seeds"
  return (f"**Conclusion.** {text}. This holds for the budget tested, {epochs(results)} per "
          "run, and for the shared settings of the method; a longer budget may order the "
          "variants differently.")


def across_datasets(values: Sequence[Value]) -> str:
  """How the ranking on this data set compares with MNIST's, from the values
  of :mod:`convnets.experiment.reasked` (empty without them)."""
  found = {v.name: v.value for v in values}
  if "order_changes" not in found:
    return ""
  changed, beyond = found["order_changes"], found["order_changes_beyond_noise"]
  text = (f"Re-asked on this data set, the variants' order has a rank correlation of "
          f"{found['rank_correlation']:.2f} with their order on MNIST (1: the same order). ")
  if not changed:
    return text + "No pair of variants changed places."
  return text + (f"{_sentence(count(changed))} pair{'s' if changed > 1 else ''} of variants "
                 f"changed places; {count(beyond) if beyond else 'none'} of "
                 f"{'them' if changed > 1 else 'it'} beyond seed noise on both data sets"
                 + (", so there the answer depends on the data." if beyond else
                    ", so the changes in order are not established."))


def discussion(results: Results | None, comparisons: Sequence[Comparison],
               limitations: str, values: Sequence[Value] = ()) -> str:
  """The discussion's paragraphs, the conclusion and the experiment's
  limitations last; without ``results`` (runs that are no experiment's), the
  comparisons' alone. ``values``: the experiment's named values (those
  comparing it with MNIST make a paragraph)."""
  parts = [against_reference(results) if results else "", own_comparisons(comparisons),
           across_datasets(values),
           power(results) if results else "", cost(results) if results else "",
           conclusion(results) if results else "",
           f"**Limitations.** {limitations}" if limitations else ""]
  return "\n\n".join(p for p in parts if p)


def headline(results: Results, comparisons: Sequence[Comparison]) -> str:
  """One line for an overview table: the lowest mean test error, and how many
  differences, from the reference and among the experiment's own
  comparisons, exceed seed-to-seed noise."""
  variants, tested = results["variants"], results["comparisons"]
  best, _ = extremes(variants)
  reference = reference_variant(results)
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
