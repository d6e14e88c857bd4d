"""``results.md`` and ``report.md``: an experiment's results as the coursework
asks for them (research question, method, motivation, quantitative results
with graphs, discussion), every number read from ``results.json``.

The discussion is generated from the numbers: which variant is best, which
differences exceed seed-to-seed noise by the stated test and which do not,
how much power the test has, trends and training cost.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Sequence

from scipy import stats as scipy_stats

from convnets.experiment.stats import ALPHA

Results = Mapping[str, Any]


def percent(mean: float, std: float | None) -> str:
  """An error rate in percent, ``"0.93 ± 0.05"`` (no ``±`` for one seed)."""
  return f"{100 * mean:.2f}" + ("" if std is None else f" ± {100 * std:.2f}")


def p_value(p: float | None) -> str:
  return "n/a" if p is None else (f"{p:.1e}" if p < 1e-3 else f"{p:.3f}")


def table(results: Results) -> str:
  """The results table: one row per variant, test error first."""
  reference = results["reference"]
  comparisons = results["comparisons"]
  n = max(len(v["runs"]) for v in results["variants"])
  head = ("| variant | test error (%) | per seed (%) | p vs reference | valid error (%) | "
          "params | connections | s/epoch |")
  rule = "|---|---:|---:|---:|---:|---:|---:|---:|"
  rows = []
  for v in results["variants"]:
    test, valid = v["test_error"], v["valid_error"]
    p = "reference" if v["name"] == reference else p_value(comparisons[v["name"]]["p"])
    seeds = ", ".join(f"{100 * run['test_error']:.2f}" for run in v["runs"])
    rows.append(f"| {v['label']} | {percent(test['mean'], test['std'])} | {seeds} | {p} | "
                f"{percent(valid['mean'], valid['std'])} | {v['params']:,} | "
                f"{v['connections']:,} | {v['seconds_per_epoch']['mean']:.1f} |")
  note = (f"Mean ± sample std over {n} seed{'s' if n > 1 else ''}; p: {results['test']['name']}, "
          f"each variant against the reference ({_label(results, reference)}). Connections: "
          "multiply-adds per example (Lecture 7's count). s/epoch: measured training time "
          f"on {results['settings']['platform']}.")
  return "\n".join([head, rule, *rows, "", note])


def _label(results: Results, name: str) -> str:
  return next(v["label"] for v in results["variants"] if v["name"] == name)


def _overrides(overrides: Mapping[str, Any]) -> str:
  return ", ".join(f"`{key.removeprefix('model_kwargs.')}={value}`"
                   for key, value in overrides.items()) or "none"


def epochs(results: Results) -> str:
  """``"12 epochs"``, or ``"20 to 30 epochs"`` when variants set their own."""
  counts = sorted({v["epochs"] for v in results["variants"]})
  return f"{counts[0]} epochs" if len(counts) == 1 else f"{counts[0]} to {counts[-1]} epochs"


def _variant_settings(variant: Mapping[str, Any], shared_epochs: int) -> str:
  """A variant's model and other overrides, its epochs where they are its own."""
  overrides = {k: v for k, v in variant["overrides"].items() if k not in ("model", "epochs")}
  own = variant["epochs"] != shared_epochs
  parts = [f"model `{variant['model']}`"]
  if overrides or not own:
    parts.append(_overrides(overrides))
  if own:
    parts.append(f"{variant['epochs']} epochs")
  return ", ".join(parts)


def method(results: Results) -> str:
  """The experiment's own method text, then the settings every variant shares."""
  s = results["settings"]
  c = s["config"]
  seeds = s["seeds"]
  augment = f"`{c['augment']}`" + (f" (random shifts of up to ±{c['shift_pixels']} pixels)"
                                   if c["augment"] == "shift" else "")
  lines = [
      results["method"].strip(),
      "",
      f"Every variant is trained with these settings, except where its own (listed below) "
      f"differ: {c['optimizer']} (learning rate "
      f"{c['learning_rate']:g}, {c['schedule']} schedule, weight decay {c['weight_decay']:g}), "
      f"batch {c['batch_size']}, {s['epochs']} epochs, augmentation {augment}, "
      f"preprocessing `{c['preprocess']}`; "
      f"{s['train_examples']:,} training examples, the validation error measured after every "
      f"epoch on {s['valid_examples']:,} held-out training examples, and the test error once, "
      f"at the end, on {s['test_examples']:,} test examples. Each variant is trained with "
      f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))}); the seed "
      "sets the initial weights, the order of the training examples and the augmentation, and "
      "seed k is the same for every variant.",
      "",
      f"Differences are judged by {results['test']['name']}, each variant against "
      f"{_label(results, results['reference'])} ({results['reference_reason']}), at "
      f"p < {results['test']['alpha']:g}.",
      "",
      "The variants (settings that differ from the shared config):",
      "",
      *(f"- **{v['label']}** (`{v['name']}`): {_variant_settings(v, s['epochs'])}"
        for v in results["variants"]),
  ]
  if s["quick"]:
    lines += ["", "**This is a `--quick` smoke run** (a tiny training subset, one epoch): its "
              "numbers only show that the pipeline works and answer nothing."]
  return "\n".join(lines)


def _power(results: Results) -> str:
  """What the test can detect with this many seeds and this much noise."""
  n = min(len(v["runs"]) for v in results["variants"])
  stds = [v["test_error"]["std"] for v in results["variants"] if v["test_error"]["std"]]
  if n < 2 or not stds:
    return ("Only one seed per variant was run, so the seed-to-seed noise is unknown and no "
            "difference can be tested; run with `--seeds=3` or more.")
  # Equal variances and sizes: df = 2(n - 1), difference / (s sqrt(2/n)) = t.
  t_crit = float(scipy_stats.t.ppf(1 - ALPHA / 2, 2 * (n - 1)))
  typical = float(math.sqrt(sum(s * s for s in stds) / len(stds)))
  detectable = t_crit * typical * math.sqrt(2 / n)
  low, high = f"{100 * min(stds):.2f}", f"{100 * max(stds):.2f}"
  m = len(results["comparisons"])
  return (f"The seed-to-seed standard deviation of the test error is "
          + (f"{low}" if low == high else f"{low} to {high}")
          + f" percentage points (typical {100 * typical:.2f}). With {n} seeds per variant "
          f"the test has at most {2 * (n - 1)} degrees of freedom, so it needs "
          f"|t| > {t_crit:.2f}: at the typical noise a difference must be about "
          f"{100 * detectable:.2f} points or more to be detected at p < {ALPHA:g}. So few "
          "seeds give weak power: a difference called \"within noise\" is unresolved, not "
          "shown to be zero"
          + (f"; and with {m} comparisons at {ALPHA:g} each, about {m * ALPHA:.2g} false "
             "alarms are expected by chance alone, which the Bonferroni threshold guards "
             "against." if m > 1 else "."))


def discussion(results: Results) -> str:
  """Paragraphs generated from the numbers."""
  variants = results["variants"]
  best = min(variants, key=lambda v: v["test_error"]["mean"])
  worst = max(variants, key=lambda v: v["test_error"]["mean"])
  ref = next(v for v in variants if v["name"] == results["reference"])
  parts = [f"The lowest mean test error is with **{best['label']}**, "
           f"{percent(best['test_error']['mean'], best['test_error']['std'])}%; the highest "
           f"with **{worst['label']}**, "
           f"{percent(worst['test_error']['mean'], worst['test_error']['std'])}%."]
  comparisons = results["comparisons"]
  if comparisons:
    m = len(comparisons)
    bullets = []
    verdicts: dict[str, list[str]] = {"beyond noise": [], "within noise": [], "not testable": []}
    for v in variants:
      if v["name"] == ref["name"]:
        continue
      c = comparisons[v["name"]]
      diff = (f"{percent(v['test_error']['mean'], None)}% vs "
              f"{percent(ref['test_error']['mean'], None)}% ({100 * c['difference']:+.2f} points)")
      if c["p"] is None:
        verdicts["not testable"].append(v["label"])
        verdict = "not testable (it needs two or more seeds per variant and some variance)"
      elif c["significant"]:
        verdicts["beyond noise"].append(v["label"])
        direction = "higher" if c["difference"] > 0 else "lower"
        bonferroni = ("also" if c["bonferroni"] else "but not") + (
            f" below the Bonferroni-corrected threshold {ALPHA:g}/{m} = {ALPHA / m:.4f}")
        verdict = (f"p = {p_value(c['p'])} < {ALPHA:g}: {direction} error beyond seed-to-seed "
                   f"noise ({bonferroni})")
      else:
        verdicts["within noise"].append(v["label"])
        verdict = f"p = {p_value(c['p'])} ≥ {ALPHA:g}: within seed-to-seed noise"
      bullets.append(f"- **{v['label']}**: {diff}; {verdict}.")
    parts += [f"Against the reference, **{ref['label']}** ({results['reference_reason']}), "
              f"by {results['test']['name']}:", "\n".join(bullets)]
    parts.append(" ".join(f"{kind.capitalize()}: {', '.join(f'**{n}**' for n in names)}."
                          for kind, names in verdicts.items() if names))
  parts.append(_power(results))
  trends = _trend_sentences(results)
  if trends:
    parts.append("Test error (mean over seeds) along the plotted trends:\n\n"
                 + "\n".join(f"- {line}" for line in trends))
  fast = min(variants, key=lambda v: v["seconds_per_epoch"]["mean"])
  slow = max(variants, key=lambda v: v["seconds_per_epoch"]["mean"])
  parts.append(f"Cost: training took {fast['seconds_per_epoch']['mean']:.1f} s/epoch "
               f"({fast['label']}) to {slow['seconds_per_epoch']['mean']:.1f} s/epoch "
               f"({slow['label']}) on {results['settings']['platform']}, wall-clock: times grow "
               f"when other jobs share the machine, so compare them within one quiet run.")
  if results["analysis_markdown"]:
    parts.append(results["analysis_markdown"].strip())
  return "\n\n".join(parts)


def _number(value: float) -> str:
  """``393,630`` for whole numbers, ``21.9`` otherwise."""
  return f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"


def _trend_sentences(results: Results) -> list[str]:
  """Test error along each declared trend axis, one sentence per family."""
  out = []
  for trend in results["trends"]:
    families = list(dict.fromkeys(v["family"] for v in results["variants"]))
    for family in families:
      members = sorted((v for v in results["variants"] if v["family"] == family),
                       key=lambda v: v["x"][trend["x"]])
      steps = "; ".join(f"{_number(v['x'][trend['x']])}: "
                        f"{percent(v['test_error']['mean'], None)}%" for v in members)
      out.append(f"{family or 'Test error'} against {trend['label']}: {steps}.")
  return out


def time_spent(results: Results) -> str:
  """The wall time, and where runs were read back (``--resume``), the runs' own."""
  wall = f"{results['wall_seconds'] / 60:.1f} minutes of wall time"
  if not results.get("runs_read_back"):
    return wall
  return (f"the runs took {results['run_seconds'] / 60:.1f} minutes in all (each from its "
          f"start to its summary), {results['runs_read_back']} of them in earlier "
          f"invocations read back by `--resume`; this one took {wall}")


def results_markdown(results: Results) -> str:
  """The whole ``results.md``."""
  figures = "\n\n".join(f"![{f['caption']}]({f['file']})\n\n*{f['caption']}*"
                        for f in results["figures"])
  return "\n".join([
      f"# {results['title']}",
      "",
      f"Experiment `{results['experiment']}`: {len(results['variants'])} variants x "
      f"{len(results['settings']['seeds'])} seeds, {epochs(results)} each; "
      f"{time_spent(results)}.",
      "",
      "## Results",
      "",
      table(results),
      "",
      figures,
      "",
      "## Research question",
      "",
      results["question"].strip(),
      "",
      "## Motivation",
      "",
      results["motivation"].strip(),
      "",
      "## Method",
      "",
      method(results),
      "",
      "## Discussion",
      "",
      discussion(results),
      "",
  ])


def index_markdown(entries: Sequence[tuple[str, Results]], root: str) -> str:
  """``report.md`` of ``--experiment=all``: per experiment, its question, its
  table, and links to its ``results.md`` and figures.

  Args:
    entries: ``(folder, results)`` per experiment; ``folder`` holds its outputs.
    root: the folder ``report.md`` is written to (links are relative to it).
  """
  lines = ["# Experiments", ""]
  for folder, results in entries:
    rel = os.path.relpath(folder, root)
    lines += [f"- [{results['title']}]({rel}/results.md)"]
  for folder, results in entries:
    rel = os.path.relpath(folder, root)
    lines += [
        "",
        f"## {results['title']}",
        "",
        results["question"].strip(),
        "",
        f"Full write-up: [{rel}/results.md]({rel}/results.md) "
        f"({results['wall_seconds'] / 60:.1f} minutes).",
        "",
        table(results),
        "",
        *(f"- [{f['caption']}]({rel}/{f['file']})" for f in results["figures"]),
        "",
        *(f"![{f['caption']}]({rel}/{f['file']})" for f in results["figures"]),
    ]
  return "\n".join(lines) + "\n"
