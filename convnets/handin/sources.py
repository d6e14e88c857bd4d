"""Where the reports' results come from: every ``results.json`` under a
folder (the committed ``results/``, an experiment's workdir, or the workdir
of ``--experiment=all``), with its experiment's text and findings.
Reading trains nothing and imports nothing heavy."""

from __future__ import annotations

import difflib
import glob
import json
import os
from typing import Any, Mapping, NamedTuple, Sequence

from convnets.experiment import reasked, report
from convnets.experiment.spec import Experiment, Text
from convnets.experiment.values import Finding


class Entry(NamedTuple):
  """One finished experiment: the folder of its ``results.json`` (its
  figures lie there too), the results, its text and its findings."""
  folder: str
  results: Mapping[str, Any]
  text: Text
  findings: list[Finding]


def entries(results_dir: str, experiments: Mapping[str, Experiment]) -> list[Entry]:
  """Every ``results.json`` below ``results_dir``, in the order of
  ``experiments`` (then by folder); an experiment ``experiments`` lacks is
  read with the text its results carry, without findings, after the others."""
  out = []
  for path in glob.glob(os.path.join(results_dir, "**", "results.json"), recursive=True):
    with open(path, encoding="utf-8") as f:
      results = json.load(f)
    experiment = experiments.get(results["experiment"])
    if experiment is None:
      out.append(Entry(os.path.dirname(path), results, report.stored_text(results), []))
      continue
    findings = list(experiment.summarise(results)) if experiment.summarise else []
    out.append(Entry(os.path.dirname(path), results, experiment.text, findings))
  order = list(experiments)
  rank = lambda e: order.index(e.results["experiment"]) if e.results["experiment"] in order \
      else len(order)
  # MNIST's results of an experiment first, then the same question re-asked elsewhere.
  return sorted(with_mnist_comparisons(out), key=lambda e: (
      rank(e), e.results["experiment"], reasked.dataset(e.results) != reasked.MNIST, e.folder))


def with_mnist_comparisons(found: Sequence[Entry]) -> list[Entry]:
  """``found``, each experiment re-asked on another data set given the
  findings that compare it with the same experiment's MNIST results
  (:mod:`convnets.experiment.reasked`) where those are among ``found``."""
  on_mnist = {e.results["experiment"]: e.results for e in found
              if reasked.dataset(e.results) == reasked.MNIST}
  out = []
  for entry in found:
    baseline = on_mnist.get(entry.results["experiment"])
    if reasked.dataset(entry.results) != reasked.MNIST and baseline is not None:
      entry = entry._replace(findings=entry.findings + reasked.findings(entry.results, baseline))
    out.append(entry)
  return out


def select(found: Sequence[Entry], topics: Sequence[str] | None, known: Sequence[str],
           results_dir: str) -> list[Entry]:
  """The entries of ``topics`` (experiment names; None: all found), in
  ``found``'s order. ValueError naming a topic that is no experiment, or
  one without results under ``results_dir``, and the fix."""
  if not found:
    raise ValueError(f"--results={results_dir}: no results.json in it or below it; pass the "
                     "committed results/ or the --workdir of a finished --experiment")
  if topics is None:
    return list(found)
  have = sorted({e.results["experiment"] for e in found})
  for topic in topics:
    if topic not in known and topic not in have:
      close = difflib.get_close_matches(topic, list(known), n=3)
      raise ValueError(f"--topics: unknown topic {topic!r}; "
                       + (f"did you mean {', '.join(close)}? " if close else "")
                       + f"topics with results: {', '.join(have)}")
    if topic not in have:
      raise ValueError(f"--topics: {topic!r} has no results.json under {results_dir}; run "
                       f"python run_experiment.py --experiment={topic} --workdir=W and pass "
                       f"--results=W, or choose from: {', '.join(have)}")
  return [e for e in found if e.results["experiment"] in topics]
