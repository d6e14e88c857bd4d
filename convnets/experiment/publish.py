"""Re-render every committed report and the README's result tables from the
result files, training nothing.

* Each ``<results>/**/results.json`` gets its ``results.md`` beside it,
  rendered by :func:`convnets.experiment.report.results_markdown` with its
  experiment's current text and ``summarise``.
* ``<results>/best/results.md`` is rendered from the ``best`` configuration's
  runs (``<results>/best/<platform>/seed<k>/``, :mod:`best_runs`).
* The README keeps its prose; what lies between ``<!-- generated:NAME -->``
  and ``<!-- /generated -->`` is rendered from the JSON (:data:`BLOCKS`).

So every measured number in a report or the README comes from a result file,
and ``regenerate(..., check=True)`` says which files have drifted from them.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
from typing import Any, Callable, Mapping

from convnets.experiment import best_runs, overview, report
from convnets.experiment.spec import Experiment, Text

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
    "conv-cpu": lambda s: overview.conv_pool(*s.bench("conv_pool_cpu")),
    "throughput-cpu": lambda s: overview.throughput(*s.bench("train_throughput_cpu")),
    "loop-cpu": lambda s: overview.train_loop(*s.bench("train_loop_cpu")),
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


def _entries(results_dir: str, experiments: Mapping[str, Experiment]
             ) -> list[tuple[str, Any, Text, list[Any]]]:
  """Every committed ``results.json``'s folder, results, its experiment's
  text and findings, in the order of ``experiments``."""
  entries = []
  for path in glob.glob(os.path.join(results_dir, "**", "results.json"), recursive=True):
    with open(path) as f:
      results = json.load(f)
    experiment = experiments[results["experiment"]]
    findings = list(experiment.summarise(results)) if experiment.summarise else []
    entries.append((os.path.dirname(path), results, experiment.text, findings))
  order = list(experiments)
  return sorted(entries, key=lambda e: (order.index(e[1]["experiment"]), e[0]))


def rendered(results_dir: str, readme_path: str, experiments: Mapping[str, Experiment],
             best_text: Text, target: float) -> dict[str, str]:
  """Every generated file's path and the text it should hold."""
  entries = _entries(results_dir, experiments)
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


def regenerate(results_dir: str, readme_path: str, experiments: Mapping[str, Experiment],
               best_text: Text, target: float, check: bool = False) -> list[str]:
  """Render every report and the README's blocks from ``results_dir``'s
  JSON; write the files that differ, or with ``check`` only list them.

  Args:
    results_dir: the committed results (``results/``).
    readme_path: the README whose generated blocks to fill.
    experiments: every experiment by name (its text and ``summarise``).
    best_text: the ``best`` configuration's text.
    target: the test error the ``best`` configuration aims below.
    check: write nothing.
  Returns the paths whose content differs from what they should hold
  (differed, when written), in order.
  """
  outputs = rendered(results_dir, readme_path, experiments, best_text, target)
  changed = sorted(path for path, text in outputs.items() if _read(path) != text)
  if not check:
    for path in changed:
      with open(path, "w", encoding="utf-8") as f:
        f.write(outputs[path])
  return changed
