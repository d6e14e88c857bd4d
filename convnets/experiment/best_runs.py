"""The runs of one configuration, seed by seed on several platforms, as
plain training workdirs (``<folder>/<platform>/seed<k>/``: ``summary.json``,
``metrics.jsonl``, ``config.json``, ``curves.png``), and their report: how
low one configuration's test error goes, against a target, per platform.

``results/best/`` holds the ``best`` configuration's runs this way; its
``results.md`` is :func:`results_markdown` of them.
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any, Mapping, Sequence

from convnets.experiment import discussion, report
from convnets.experiment.spec import Text
from convnets.experiment.values import Comparison, Finding, Grid, Value, flat

Run = Mapping[str, Any]
# The overview figures beside the runs (drawn by convnets.experiment.publish).
FIGURES = (("curves.png", "Validation error and training loss against epoch, one line per run."),
           ("test_error.png", "Test error per platform: mean ± 1 std over its runs; circles "
            "are single runs."))


def load_runs(folder: str) -> list[dict[str, Any]]:
  """Every ``<folder>/<platform>/seed<k>/`` run, by platform then seed: its
  ``summary``, ``curves`` (the records of ``metrics.jsonl``), ``config``
  and ``folder`` (relative to ``folder``)."""
  runs = []
  for path in sorted(glob.glob(os.path.join(folder, "*", "seed*", "summary.json"))):
    run_dir = os.path.dirname(path)
    with open(path) as f, open(os.path.join(run_dir, "config.json")) as g:
      summary, config = json.load(f), json.load(g)
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
      curves = [json.loads(line) for line in f if line.strip()]
    runs.append({"platform": os.path.basename(os.path.dirname(run_dir)), "summary": summary,
                 "curves": curves, "config": config, "folder": os.path.relpath(run_dir, folder)})
  return sorted(runs, key=lambda r: (r["platform"], r["summary"]["seed"]))


def platforms(runs: Sequence[Run]) -> list[str]:
  return list(dict.fromkeys(r["platform"] for r in runs))


def _best_epoch(run: Run) -> str:
  best = min(run["curves"], key=lambda c: 1 - c["valid_accuracy"])
  return f"{100 * (1 - best['valid_accuracy']):.2f} (epoch {best['epoch']})"


def seeds_grid(runs: Sequence[Run]) -> Grid:
  """One row per run: its errors, its best validation epoch, its speed."""
  columns = ["test error", "valid error", "lowest valid error % (epoch)", "training s",
             "s/epoch", "examples/s", "compile s", "loop"]
  cells = [[s["test_error"], s["valid_error"], _best_epoch(r), s["train_seconds"],
            s["seconds_per_epoch"], s["examples_per_second"], s["compile_seconds"], s["loop"]]
           for r in runs for s in (r["summary"],)]
  return Grid("seeds", "Every run", [f"{r['platform']} seed {r['summary']['seed']}" for r in runs],
              columns, cells, units={c: "" for c in columns[2:]}, corner="run",
              note="Errors at the end of training (the last epoch's weights); lowest valid "
              "error: the best epoch's, which early stopping would have kept. Times are "
              "wall-clock on the platform named, beside whatever else ran there.")


def means_grid(runs: Sequence[Run], target: float) -> Grid:
  """Per platform and over all runs: the test and validation errors' mean ±
  std, and whether the mean test error is below ``target``."""
  groups = {p: [r for r in runs if r["platform"] == p] for p in platforms(runs)}
  groups["all"] = list(runs)
  below = f"mean below {100 * target:g}%"
  cells = []
  for members in groups.values():
    test = [r["summary"]["test_error"] for r in members]
    cells.append([test, [r["summary"]["valid_error"] for r in members],
                  "yes" if sum(test) / len(test) < target else "no"])
  return Grid("means", "Per platform", [f"{p} ({len(m)} runs)" for p, m in groups.items()],
              ["test error", "valid error", below], cells, corner="runs",
              note="Means ± sample std over the runs.")


def config_differences(runs: Sequence[Run]) -> str:
  """The config fields, besides the seed, whose values differ between runs
  (a field missing from some runs' ``config.json`` counts)."""
  configs = [flat(r["config"]) for r in runs]
  keys = sorted(set().union(*configs) - {"seed"})
  return ", ".join(k for k in keys if len({json.dumps(c.get(k)) for c in configs}) > 1) or "none"


def findings(runs: Sequence[Run], target: float) -> list[Finding]:
  """The runs' grids, CPU against GPU (or the first two platforms), and what
  differs between their configs."""
  found: list[Finding] = [seeds_grid(runs), means_grid(runs, target)]
  names = platforms(runs)
  if len(names) >= 2:
    a, b = ([r["summary"]["test_error"] for r in runs if r["platform"] == p] for p in names[:2])
    found.append(Comparison("platforms", f"test error, {names[0]} runs against {names[1]} runs",
                            a, b))
  found.append(Value("config_differences", "config fields that differ between the runs, "
                     "besides the seed", config_differences(runs)))
  return found


def results_markdown(runs: Sequence[Run], text: Text, target: float) -> str:
  """The report of the runs: the text's sections, the tables, links to each
  run's curves, and the comparisons' discussion."""
  found = findings(runs, target)
  curves = ", ".join(f"[{r['platform']} seed {r['summary']['seed']}]({r['folder']}/curves.png)"
                     for r in runs)
  figures = "\n\n".join(f"![{caption}]({file})\n\n*{caption}*" for file, caption in FIGURES)
  results = "\n\n".join([report.findings_markdown(found), figures,
                           f"Each run's own learning curves: {curves}."])
  own = [f for f in found if isinstance(f, Comparison)]
  sections = [("Research question", text.question), ("Motivation", text.motivation),
              ("Method", text.method), ("Results", results),
              ("Discussion", discussion.discussion(None, own, text.limitations))]
  return "\n\n".join([f"# {text.title}"] + [f"## {t}\n\n{b}" for t, b in sections]) + "\n"
