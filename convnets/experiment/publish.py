"""Re-render every committed report and the README's result tables from the
result files, training nothing.

* Each ``<results>/**/results.json`` gets its ``results.md`` beside it,
  rendered by :func:`convnets.experiment.report.results_markdown` with its
  experiment's current text and ``summarise``.
* ``<results>/best/results.md`` is rendered from the ``best`` configuration's
  runs (``<results>/best/<platform>/seed<k>/``, :mod:`best_runs`).
* The README keeps its prose; what lies between ``<!-- generated:NAME -->``
  and ``<!-- /generated -->`` is rendered from the JSON (:data:`BLOCKS`).
* With ``report_dir``, the coursework hand-in report (``report.html`` and
  ``report.pdf``, :mod:`convnets.handin`) of every experiment, after the figures.
* With ``figures``, every figure that is a function of the result files alone
  is redrawn (:func:`drawn`): each experiment's curves, test errors, trends
  and per-family curves, the ``best`` runs' own curves and their overview.
  Figures that need trained variables or the data (kernels, galleries) stay.
  PNGs are byte-stable on one matplotlib version (:func:`convnets.style.save`
  fixes their metadata), so the check compares bytes.

So every measured number in a report or the README comes from a result file,
and ``regenerate(..., check=True)`` says which files have drifted from them.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import tempfile
from typing import Any, Callable, Mapping, Sequence

from convnets.experiment import best_runs, overview, plots, report, stats
from convnets.experiment.spec import Experiment, Text
from convnets.handin import build as handin
from convnets.handin import sources as handin_sources

BLOCK = re.compile(r"(<!-- generated:([\w-]+) -->\n)(.*?)(<!-- /generated -->)", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class Sources:
  """What the README's blocks are rendered from.

  Attributes:
    results_dir: the results folder.
    root: the README's folder (links are relative to it).
    entries: per committed ``results.json``: its folder, the results, its
      experiment's text and findings, in the experiments' order.
    best: the ``best`` configuration's runs (:func:`best_runs.load_runs`).
    target: the test error the ``best`` configuration aims below.
    benchmarks: ``<results_dir>/benchmarks/<name>.json`` by name.
  """
  results_dir: str
  root: str
  entries: list[tuple[str, Any, Text, list[Any]]]
  best: list[dict[str, Any]]
  target: float
  benchmarks: dict[str, Any]

  @property
  def best_folder(self) -> str:
    return os.path.join(self.results_dir, "best")

  def bench(self, name: str) -> tuple[Any, str]:
    """The benchmark ``name`` and its file's path relative to the README."""
    path = os.path.join(self.results_dir, "benchmarks", name + ".json")
    return self.benchmarks[name], os.path.relpath(path, self.root)


# README block name -> what renders it.
BLOCKS: dict[str, Callable[[Sources], str]] = {
    "main": lambda s: overview.main_job(*s.bench("train_throughput_cpu")),
    "experiments": lambda s: overview.experiments_table(s.entries, s.root),
    "best": lambda s: overview.best_table(s.best, s.target, s.root, s.best_folder),
    "fast": lambda s: overview.fast_recipe(*s.bench("fast_recipe_cpu")),
    "conv-cpu": lambda s: overview.conv_pool(*s.bench("conv_pool_cpu")),
    "throughput-cpu": lambda s: overview.throughput(*s.bench("train_throughput_cpu")),
    "loop-cpu": lambda s: overview.train_loop(*s.bench("train_loop_cpu")),
    "pytorch-cpu": lambda s: overview.pytorch_reference(*s.bench("pytorch_reference_cpu")),
    "grouping-cpu": lambda s: overview.seed_grouping(*s.bench("seed_grouping_cpu")),
    "gpu": lambda s: "\n\n".join([overview.gpu_runs(s.best),
                                  overview.conv_pool(*s.bench("conv_pool_gpu"))]),
}


def fill(readme: str, sources: Sources) -> str:
  """``readme`` with every generated block rendered anew. ValueError for a
  block no renderer knows."""
  def render(match: re.Match) -> str:
    name = match.group(2)
    if name not in BLOCKS:
      raise ValueError(f"README block {name!r} is not one of {', '.join(BLOCKS)}")
    return match.group(1) + BLOCKS[name](sources).strip() + "\n" + match.group(4)
  return BLOCK.sub(render, readme)


def _read(path: str) -> str | None:
  if not os.path.isfile(path):
    return None
  with open(path, encoding="utf-8") as f:
    return f.read()


def rendered(results_dir: str, readme_path: str, experiments: Mapping[str, Experiment],
             best_text: Text, target: float) -> dict[str, str]:
  """Every generated file's path and the text it should hold."""
  entries = handin_sources.entries(results_dir, experiments)
  # Each experiment's findings, computed once for its report and the README.
  outputs = {os.path.join(folder, "results.md"): report.results_markdown(
      results, experiments[results["experiment"]].text, lambda _, f=findings: f)
      for folder, results, _, findings in entries}
  runs = best_runs.load_runs(os.path.join(results_dir, "best"))
  if runs:
    outputs[os.path.join(results_dir, "best", "results.md")] = best_runs.results_markdown(
        runs, best_text, target)
  benchmarks = {}
  for path in glob.glob(os.path.join(results_dir, "benchmarks", "*.json")):
    with open(path) as f:
      benchmarks[os.path.splitext(os.path.basename(path))[0]] = json.load(f)
  sources = Sources(results_dir, os.path.dirname(os.path.abspath(readme_path)), entries, runs,
                    target, benchmarks)
  outputs[readme_path] = fill(_read(readme_path) or "", sources)
  return outputs


def _family_curves(results: Mapping[str, Any], folder: str) -> None:
  """The per-family learning curves (``curves_<family>.png``) ``results``
  lists among its figures, redrawn into ``folder``."""
  listed = {f["file"] for f in results["figures"]}
  for family in dict.fromkeys(v["family"] for v in results["variants"]):
    file = f"curves_{family.lower().replace(' ', '_')}.png"
    if file in listed:
      plots.learning_curves([v for v in results["variants"] if v["family"] == family],
                            os.path.join(folder, file), f"{results['title']}: {family}")


def _best_figures(runs: Sequence[Mapping[str, Any]], folder: str) -> None:
  """The ``best`` runs' overview (``curves.png``: one line per run;
  ``test_error.png``: one row per platform) and each run's own curves."""
  from convnets.train.plots import plot_curves
  from convnets.train.records import curves_title

  def record(name: str, members: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"name": name, "label": name, "family": "",
            "runs": [{"curves": r["curves"], "test_error": r["summary"]["test_error"]}
                     for r in members],
            "test_error": stats.spread([r["summary"]["test_error"] for r in members])}

  plots.learning_curves([record(f"{r['platform']} seed {r['summary']['seed']}", [r])
                         for r in runs], os.path.join(folder, plots.CURVES.file),
                        "The best configuration, every run")
  plots.test_errors([record(f"{p} ({sum(r['platform'] == p for r in runs)} runs)",
                            [r for r in runs if r["platform"] == p])
                     for p in best_runs.platforms(runs)],
                    os.path.join(folder, plots.TEST_ERROR.file),
                    "The best configuration, per platform")
  for r in runs:
    os.makedirs(os.path.join(folder, r["folder"]), exist_ok=True)
    plot_curves(r["curves"], os.path.join(folder, r["folder"], "curves.png"),
                curves_title(r["summary"]))


def drawn(results_dir: str) -> dict[str, bytes]:
  """Every figure under ``results_dir`` that its result files alone give, by
  path: drawn into a scratch folder, so nothing is written."""
  figures = {}
  with tempfile.TemporaryDirectory() as scratch:
    for path in glob.glob(os.path.join(results_dir, "**", "results.json"), recursive=True):
      with open(path) as f:
        results = json.load(f)
      folder = os.path.join(scratch, os.path.relpath(os.path.dirname(path), results_dir))
      os.makedirs(folder, exist_ok=True)
      plots.standard(results, folder)
      _family_curves(results, folder)
    runs = best_runs.load_runs(os.path.join(results_dir, "best"))
    if runs:
      os.makedirs(os.path.join(scratch, "best"), exist_ok=True)
      _best_figures(runs, os.path.join(scratch, "best"))
    for png in glob.glob(os.path.join(scratch, "**", "*.png"), recursive=True):
      with open(png, "rb") as f:
        figures[os.path.join(results_dir, os.path.relpath(png, scratch))] = f.read()
  return figures


def _read_bytes(path: str) -> bytes | None:
  if not os.path.isfile(path):
    return None
  with open(path, "rb") as f:
    return f.read()


def regenerate(results_dir: str, readme_path: str, experiments: Mapping[str, Experiment],
               best_text: Text, target: float, check: bool = False,
               figures: bool = False, report_dir: str | None = None) -> list[str]:
  """Render every report and the README's blocks from ``results_dir``'s
  JSON; write the files that differ, or with ``check`` only list them.

  Args:
    results_dir: the committed results (``results/``).
    readme_path: the README whose generated blocks to fill.
    experiments: every experiment by name (its text and ``summarise``).
    best_text: the ``best`` configuration's text.
    target: the test error the ``best`` configuration aims below.
    check: write nothing.
    figures: also redraw the figures the result files alone give (:func:`drawn`).
    report_dir: also keep the hand-in report there (``report.html`` and
      ``report.pdf`` of every experiment, :func:`convnets.handin.build.regenerate`),
      rendered after the figures are written, so that it embeds them.
  Returns the paths whose content differs from what they should hold
  (differed, when written), in order.
  """
  outputs = rendered(results_dir, readme_path, experiments, best_text, target)
  changed = sorted(path for path, text in outputs.items() if _read(path) != text)
  pngs = drawn(results_dir) if figures else {}
  changed_pngs = sorted(path for path, data in pngs.items() if _read_bytes(path) != data)
  if not check:
    for path in changed:
      with open(path, "w", encoding="utf-8") as f:
        f.write(outputs[path])
    for path in changed_pngs:
      with open(path, "wb") as f:
        f.write(pngs[path])
  if report_dir is not None:
    changed += handin.regenerate(handin_sources.entries(results_dir, experiments), report_dir,
                                 check)
  return sorted(changed + changed_pngs)
