"""``results.md`` and ``report.md``: an experiment written up in the
coursework's order (research question, motivation, method, results with
tables and graphs, discussion), every number read from ``results.json``.

One renderer serves every experiment. Its prose comes from the experiment's
Markdown file (:class:`convnets.experiment.spec.Text`); its own findings are
named values (:mod:`convnets.experiment.values`) that its ``summarise``
computes from the results; the discussion is generated from the comparisons
alone: what exceeds seed-to-seed noise, what does not, and how large a
difference the seeds could have resolved.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Sequence

from convnets.experiment import discussion, reasked, stats
from convnets.experiment.formats import (difference, epochs, escape, heading, is_number,
                                         mean_std, number, p_value, percent, with_unit)
from convnets.experiment.spec import Text
from convnets.experiment.values import Cell, Comparison, Finding, Grid, Value, flat

Results = Mapping[str, Any]
Summariser = Callable[[Results], Sequence[Finding]]


def _label(results: Results, name: str) -> str:
  return next(v["label"] for v in results["variants"] if v["name"] == name)


def table(results: Results) -> str:
  """The results table: one row per variant, test error first."""
  reference, comparisons = results["reference"], results["comparisons"]
  n = max(len(v["runs"]) for v in results["variants"])
  rows = ["| variant | test error (%) | per seed (%) | p vs reference | valid error (%) | "
          "params | connections | s/epoch |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
  for v in results["variants"]:
    test, valid = v["test_error"], v["valid_error"]
    p = "reference" if v["name"] == reference else p_value(comparisons[v["name"]]["p"])
    seeds = ", ".join(percent(run.get("test_error"), None) for run in v["runs"])
    rows.append(f"| {v['label']} | {percent(test['mean'], test['std'])} | {seeds} | {p} | "
                f"{percent(valid['mean'], valid['std'])} | {v['params']:,} | "
                f"{v['connections']:,} | {v['seconds_per_epoch']['mean']:.1f} |")
  diverged = any(run.get("test_error") is None for v in results["variants"] for run in v["runs"])
  note = (f"Mean ± sample std over {n} seed{'s' if n > 1 else ''}"
          + ("; –: a seed whose loss diverged, left out of the means and tests" if diverged
             else "") + f"; p: {results['test']['name']}, "
          f"each variant against the reference ({_label(results, reference)}). Connections: "
          "multiply-adds per example (Lecture 7's count). s/epoch: measured training time "
          f"on {results['settings']['platform']}.")
  return "\n".join([*rows, "", note])


def _variant_settings(variant: Mapping[str, Any], shared_epochs: int) -> str:
  """A variant's model and other overrides (``pooling=avg``, whichever
  config section holds it), its epochs where they are its own."""
  overrides = {k: v for k, v in flat(variant["overrides"]).items() if k not in ("model", "epochs")}
  own = variant["epochs"] != shared_epochs
  parts = [f"model `{flat({'model': variant['model']})['model']}`"]
  if overrides or not own:
    parts.append(", ".join(f"`{k}={v}`" for k, v in overrides.items()) or "nothing else")
  if own:
    parts.append(f"{variant['epochs']} epochs")
  return ", ".join(parts)


def method(results: Results, text: Text) -> str:
  """The experiment's own method text, then the settings every variant shares."""
  s = results["settings"]
  c, seeds = flat(s["config"]), s["seeds"]
  augment = f"`{c['augment']}`" + (f" (random shifts of up to ±{c['shift_pixels']} pixels)"
                                   if c["augment"] == "shift" else "")
  lines = [
      text.method, "",
      f"Every variant is trained with these settings, except where its own (listed below) "
      f"differ: {c['optimizer']} (learning rate {c['learning_rate']:g}, {c['schedule']} "
      f"schedule, weight decay {c['weight_decay']:g}), batch {c['batch_size']}, {s['epochs']} "
      f"epochs, augmentation {augment}, preprocessing `{c['preprocess']}`; "
      f"{s['train_examples']:,} training examples, the validation error measured after every "
      f"epoch on {s['valid_examples']:,} held-out training examples, and the test error once, "
      f"at the end, on {s['test_examples']:,} test examples. Each variant is trained with "
      f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))}); the seed "
      "sets the initial weights, the order of the training examples and the augmentation, and "
      "seed k is the same for every variant.", "",
      f"Differences are judged by {results['test']['name']}, each variant against "
      f"{_label(results, results['reference'])} ({results['reference_reason']}), at "
      f"p < {results['test']['alpha']:g}.", "",
      "The variants (settings that differ from the shared config):", "",
      *(f"- **{v['label']}** (`{v['name']}`): {_variant_settings(v, s['epochs'])}"
        for v in results["variants"]),
  ]
  if s["quick"]:
    lines += ["", "**This is a `--quick` smoke run** (a tiny training subset, one epoch): its "
              "numbers only show that the pipeline works and answer nothing."]
  return "\n".join(lines)


def grid_markdown(grid: Grid, titled: bool = True) -> str:
  """``### title`` (unless not ``titled``), the grid as a table and its note."""
  lowest = {j: min((mean_std(row[j])[0] for row in grid.cells if is_number(row[j])),
                    default=None) for j in range(len(grid.columns)) if grid.lowest_bold}

  def cell(row: Sequence[Cell], j: int) -> str:
    text = escape(number(row[j], grid.unit(grid.columns[j])))
    bold = j in lowest and is_number(row[j]) and mean_std(row[j])[0] == lowest[j]
    return f"**{text}**" if bold else text

  # A column of words (verdicts, names) has no unit to show.
  units = [grid.unit(c) if any(is_number(row[j]) for row in grid.cells) else ""
           for j, c in enumerate(grid.columns)]
  lines = [f"### {grid.title}", ""] if titled else []
  lines += [f"| {grid.corner} | "
           + " | ".join(escape(heading(c, u)) for c, u in zip(grid.columns, units)) + " |",
           "|---|" + "---:|" * len(grid.columns)]
  lines += [f"| {escape(label)} | " + " | ".join(cell(row, j) for j in range(len(row))) + " |"
            for label, row in zip(grid.rows, grid.cells)]
  return "\n".join(lines + (["", grid.note] if grid.note else []))


def comparisons_markdown(comparisons: Sequence[Comparison]) -> str:
  """The comparisons as a table: both means, the difference, Welch's p and the verdict."""
  lines = ["### Comparisons", "", "| a against b | a | b | a − b | p | verdict |",
           "|---|---:|---:|---:|---:|---|"]
  for c in comparisons:
    test = stats.pair(c.a, c.b)
    lines.append(f"| {escape(c.description)} | {with_unit(c.a, c.unit)} | "
                 f"{with_unit(c.b, c.unit)} | {difference(test['difference'], c.unit)} | "
                 f"{p_value(test['p'])} | {stats.verdict(test)} |")
  return "\n".join(lines + ["", "Means over seeds ± sample std; p: Welch's two-sided t-test on "
                            "the per-seed values."])


def values_markdown(values: Sequence[Value]) -> str:
  """The values as a table of what each is and its number (one per seed:
  mean ± std, then each seed)."""
  lines = ["### Key numbers", "", "| quantity | value |", "|---|---:|"]
  for v in values:
    seeds = ""
    if isinstance(v.value, Sequence) and not isinstance(v.value, str) and len(v.value) > 1:
      seeds = " (" + ", ".join(number(x, v.unit) for x in v.value) + ")"
    lines.append(f"| {escape(v.description)} | {with_unit(v.value, v.unit)}{seeds} |")
  return "\n".join(lines)


def findings_markdown(findings: Sequence[Finding]) -> str:
  """An experiment's own findings: its grids, its comparisons, its key numbers."""
  grids = [grid_markdown(f) for f in findings if isinstance(f, Grid)]
  comparisons = [f for f in findings if isinstance(f, Comparison)]
  values = [f for f in findings if isinstance(f, Value)]
  return "\n\n".join(grids + ([comparisons_markdown(comparisons)] if comparisons else [])
                     + ([values_markdown(values)] if values else []))


def time_spent(results: Results) -> str:
  """The wall time, and where runs were read back (``--resume``), the runs' own."""
  wall = f"{results['wall_seconds'] / 60:.1f} minutes of wall time"
  if not results.get("runs_read_back"):
    return wall
  return (f"the runs took {results['run_seconds'] / 60:.1f} minutes in all (each from its "
          f"start to its summary), {results['runs_read_back']} of them in earlier "
          f"invocations read back by `--resume`; this one took {wall}")


def figures_markdown(figures: Sequence[Mapping[str, str]], folder: str = "") -> str:
  """Each figure, its caption below it; links relative to ``folder``."""
  return "\n\n".join(f"![{f['caption']}]({os.path.join(folder, f['file'])})\n\n*{f['caption']}*"
                     for f in figures)


def stored_text(results: Results) -> Text:
  """The text a ``results.json`` carries (what its experiment declared when it ran)."""
  return Text(results["title"], results["question"], results["motivation"], results["method"])


def title(results: Results, text: Text) -> str:
  """The experiment's title, naming the data set when it is not MNIST (a question re-asked)."""
  return text.title + reasked.naming(results, ", re-asked on ")


def results_markdown(results: Results, text: Text | None = None,
                     summarise: Summariser | None = None) -> str:
  """The whole ``results.md``.

  Args:
    results: what ``results.json`` holds.
    text: the experiment's prose; None: the text ``results`` carries.
    summarise: the experiment's findings from ``results`` (its
      :attr:`~convnets.experiment.spec.Experiment.summarise`); None: none.
  """
  text = text or stored_text(results)
  findings = list(summarise(results)) if summarise else []
  own = [f for f in findings if isinstance(f, Comparison)]
  sections = [
      ("Research question", text.question), ("Motivation", text.motivation),
      ("Method", method(results, text)),
      ("Results", "\n\n".join(p for p in (runs_line(results), table(results),
                                            findings_markdown(findings),
                                            figures_markdown(results["figures"])) if p)),
      ("Discussion", discussion.discussion(results, own, text.limitations,
                                           [f for f in findings if isinstance(f, Value)])),
  ]
  return "\n\n".join([f"# {title(results, text)}"] + [f"## {name}\n\n{body}"
                                                       for name, body in sections]) + "\n"


def runs_line(results: Results) -> str:
  """What was run: variants, seeds, epochs and the time it took."""
  return (f"Experiment `{results['experiment']}`: {len(results['variants'])} variants x "
          f"{len(results['settings']['seeds'])} seeds, {epochs(results)} each; "
          f"{time_spent(results)}.")


def index_markdown(entries: Sequence[tuple[str, Results]], root: str) -> str:
  """``report.md`` of ``--experiment=all``: per experiment, its question, its
  table, and links to its ``results.md`` and figures.

  Args:
    entries: ``(folder, results)`` per experiment; ``folder`` holds its outputs.
    root: the folder ``report.md`` is written to (links are relative to it).
  """
  lines = ["# Experiments", ""]
  for folder, results in entries:
    lines += [f"- [{results['title']}]({os.path.relpath(folder, root)}/results.md)"]
  for folder, results in entries:
    rel = os.path.relpath(folder, root)
    lines += [
        "", f"## {results['title']}", "", results["question"].strip(), "",
        f"Full write-up: [{rel}/results.md]({rel}/results.md) "
        f"({results['wall_seconds'] / 60:.1f} minutes).", "",
        table(results), "",
        figures_markdown(results["figures"], rel),
    ]
  return "\n".join(lines) + "\n"
