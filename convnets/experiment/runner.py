"""Run an experiment: train every variant with several seeds under identical
settings, then record, aggregate, test and plot.

Layout of an experiment's folder ``W``:
  results.json   every variant x seed (final metrics, params, connections,
                 s/epoch, per-epoch curves), the aggregates and the tests
  results.md     table, research question, motivation, method, discussion
  *.png          the figures
  runs/<variant>/seed<k>/   each run's own folder (see convnets.train.workdir)

``--experiment=all`` puts each experiment in ``W/<name>/`` and writes
``W/report.md`` linking them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Callable, Sequence

import jax
from ml_collections import ConfigDict

from convnets import models
from convnets.configs import configure
from convnets.data import MNIST
from convnets.describe import count_connections
from convnets.experiment import plots, report, stats
from convnets.experiment.spec import (QUICK_EPOCHS, QUICK_EXAMPLES, Experiment, Figure,
                                     Settings, Variant)
from convnets.train import check_config, loop
from convnets.train.pipeline import model_input_shape
from convnets.train.workdir import WorkdirError, read_jsonl, write_json

Log = Callable[[str], None]


def quick_data(data: MNIST, examples: int = QUICK_EXAMPLES) -> MNIST:
  """The first ``examples`` of every split."""
  return MNIST(data.train.take(examples), data.valid.take(examples), data.test.take(examples))


# Whether a variant's seeds train together (vmapped in lockstep, one compiled
# program) or one after another. A CPU's few cores are already busy with one
# seed, so stacking seeds makes each epoch slower than the compilations it
# saves; accelerators have the parallelism to spare.
SEEDS_TOGETHER = {"cpu": False}


def finished_run(run_dir: str, config: ConfigDict, seed: int) -> dict[str, Any] | None:
  """The summary of the run that finished in ``run_dir`` with exactly
  ``config`` and ``seed``; None if no run finished there (no ``summary.json``).

  Raises WorkdirError if the finished run was trained with another config, so
  that a resumed experiment never mixes runs of different settings.
  """
  summary_path = os.path.join(run_dir, "summary.json")
  if not os.path.isfile(summary_path):
    return None
  with open(os.path.join(run_dir, "config.json")) as f:
    saved = json.load(f)
  # Through JSON, so tuples compare equal to the lists they were saved as.
  wanted = json.loads(json.dumps(dict(config.to_dict(), seed=seed)))
  if saved != wanted:
    differ = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
    raise WorkdirError(f"{run_dir} holds a finished run trained with another config "
                       f"({', '.join(differ)} differ); resume with the settings it was "
                       f"started with, or choose a new --workdir")
  with open(summary_path) as f:
    return json.load(f)


def train_seeds(config: ConfigDict, seeds: Sequence[int], workdir: str, *, data: MNIST,
                overwrite: bool = False, resume: bool = False, log: Log = print,
                together: bool | None = None) -> list[dict[str, Any]]:
  """Train ``config`` once per seed, each run in ``workdir/seed<k>/``.

  The one place where a variant meets its seeds: they train together
  (:func:`convnets.train.loop.train_seeds`, vmapped) or one at a time, as
  ``together`` says (None: ``SEEDS_TOGETHER`` for the backend, default together).
  With ``resume``, a seed whose run already finished with this config is read
  back instead of trained (:func:`finished_run`), and an unfinished run's
  folder is trained afresh.

  Returns:
    Per seed, in order: the run's summary, plus ``curves`` (the per-epoch
    records of ``metrics.jsonl``), ``workdir`` and ``read_back`` (whether
    the run finished earlier).
  """
  dirs = {seed: os.path.join(workdir, f"seed{seed}") for seed in seeds}
  summaries = {seed: finished_run(dirs[seed], config, seed) for seed in seeds} if resume else {}
  done = [seed for seed in seeds if summaries.get(seed) is not None]
  if done:
    log(f"seed{'s' if len(done) > 1 else ''} {', '.join(map(str, done))} finished earlier: "
        f"read back from {workdir}")
  todo = [seed for seed in seeds if seed not in done]
  if together is None:
    together = SEEDS_TOGETHER.get(jax.default_backend(), True)
  if todo and together:
    log(f"seeds {', '.join(map(str, todo))} together -> {workdir}")
    summaries.update(zip(todo, loop.train_seeds(config, todo, [dirs[s] for s in todo], data=data,
                                                overwrite=overwrite or resume, log=log)))
  elif todo:
    for i, seed in enumerate(todo):
      log(f"seed {seed} ({i + 1}/{len(todo)}) -> {dirs[seed]}")
      summaries[seed], = loop.train_seeds(
          config, [seed], [dirs[seed]], data=data, overwrite=overwrite or resume,
          log=lambda line, seed=seed: log(f"seed {seed}: {line}"))
  return [{**summaries[seed], "curves": read_jsonl(os.path.join(dirs[seed], "metrics.jsonl")),
           "workdir": dirs[seed], "read_back": seed in done} for seed in seeds]


def check_workdir(workdir: str, overwrite: bool, resume: bool = False) -> None:
  """Refuse a folder that already holds something, unless ``overwrite`` or ``resume``."""
  if overwrite and resume:
    raise WorkdirError("--overwrite and --resume contradict each other: --resume keeps the "
                       "finished runs in the workdir, --overwrite replaces them; pass one")
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise WorkdirError(f"workdir {workdir} is a file, not a folder; choose another --workdir")
  if os.path.isdir(workdir) and os.listdir(workdir) and not (overwrite or resume):
    raise WorkdirError(f"workdir {workdir} already holds results "
                       f"({', '.join(sorted(os.listdir(workdir))[:5])}); choose a new "
                       f"--workdir, pass --resume to keep its finished runs and train the "
                       f"rest, or --overwrite to replace them")


def _variant_record(variant: Variant, config: ConfigDict, runs: list[dict[str, Any]],
                    root: str) -> dict[str, Any]:
  settings = models.settings(config.model)
  record = {
      "name": variant.name, "label": variant.label, "family": variant.family,
      "coords": dict(variant.coords), "overrides": dict(variant.overrides),
      "model": config.model.name, "model_kwargs": settings, "epochs": config.epochs,
      "params": runs[0]["params"],
      "connections": count_connections(config.model.name, settings, model_input_shape(config)),
      "test_error": stats.spread([r["test_error"] for r in runs]),
      "valid_error": stats.spread([r["valid_error"] for r in runs]),
      "seconds_per_epoch": stats.spread([r["seconds_per_epoch"] for r in runs]),
      "runs": [{**r, "workdir": os.path.relpath(r["workdir"], root)} for r in runs],
  }
  # Where the variant sits on every possible trend axis (spec.MEASURED and its coords).
  record["x"] = {**{key: float(value) for key, value in variant.coords.items()},
                 "params": record["params"], "connections": record["connections"],
                 "seconds_per_epoch": record["seconds_per_epoch"]["mean"]}
  return record


def _draw(experiment: Experiment, results: dict[str, Any], workdir: str) -> list[Figure]:
  """The figures every experiment gets, plus its declared trends."""
  variants = results["variants"]
  figures = [Figure("curves.png", "Validation error and training loss against epoch: mean over "
                    "seeds, band ±1 std."),
             Figure("test_error.png", "Test error per variant: mean ± 1 std over seeds; "
                    "circles are single seeds.")]
  plots.learning_curves(variants, os.path.join(workdir, figures[0].file), experiment.title)
  plots.test_errors(variants, os.path.join(workdir, figures[1].file), experiment.title,
                    results["reference"])
  for trend in experiment.trends:
    figure = Figure(f"test_error_vs_{trend.x}.png", f"Test error against {trend.label}: mean "
                    "± 1 std over seeds.")
    plots.trend(variants, trend.x, trend.label, trend.log_x,
                os.path.join(workdir, figure.file), experiment.title)
    figures.append(figure)
  return figures


def run_experiment(experiment: Experiment, workdir: str, *, config: ConfigDict, data: MNIST,
                   settings: Settings = Settings(), overwrite: bool = False,
                   resume: bool = False, log: Log = print) -> dict[str, Any]:
  """Train ``experiment``'s variants, each with ``settings.seeds``, and write
  ``results.json``, ``results.md`` and the figures to ``workdir``.

  Args:
    experiment: what to run.
    workdir: its folder; must be new or empty unless ``overwrite``.
    config: the shared config; the experiment's overrides and epochs, then
      each variant's overrides (which may set its own ``epochs``, unless
      ``settings`` gives epochs or quick mode) and the seed are applied to a copy.
    data: MNIST, loaded once for every run.
    settings: seeds, epochs, a subset of variants, quick mode.
    overwrite: replace the outputs of an earlier run in ``workdir``.
    resume: keep the runs that finished earlier in ``workdir`` with the same
      config and train only the others (an interrupted experiment goes on
      where it stopped; the tables and figures are written anew over all runs).
    log: progress lines.

  Every variant's config and model are checked before anything is written.
  Returns what ``results.json`` holds.
  """
  start = time.perf_counter()
  variants = experiment.select(list(settings.variants) if settings.variants else None)
  epochs = settings.epochs or (QUICK_EPOCHS if settings.quick else experiment.epochs)
  if settings.quick:
    data = quick_data(data)
  shared = configure(config, {**experiment.overrides, "epochs": epochs})
  # A variant may set its own epochs; --epochs and --quick set every variant's.
  imposed = {"epochs": epochs} if settings.epochs or settings.quick else {}
  configs = {v.name: configure(shared, {**v.overrides, **imposed}) for v in variants}
  if settings.quick:  # a smoke run keeps any warm-up, shortened to fit its one epoch
    for variant_config in configs.values():
      optimizer = variant_config.optimizer
      optimizer.warmup_epochs = min(optimizer.warmup_epochs, epochs / 2)
  for name, variant_config in configs.items():
    try:
      check_config(variant_config)
      models.build(variant_config.model)
    except ValueError as e:
      raise ValueError(f"experiment {experiment.name!r}, variant {name!r}: {e}") from None
  check_workdir(workdir, overwrite, resume)
  os.makedirs(workdir, exist_ok=True)

  records = []
  for i, variant in enumerate(variants):
    prefix = f"[{experiment.name} {i + 1}/{len(variants)} {variant.name}]"
    log(f"{prefix} {variant.label}: {len(settings.seeds)} seed(s), "
        f"{configs[variant.name].epochs} epoch(s)")
    runs = train_seeds(configs[variant.name], settings.seeds,
                       os.path.join(workdir, "runs", variant.name), data=data,
                       overwrite=overwrite, resume=resume,
                       log=lambda line, p=prefix: log(f"{p} {line}"))
    records.append(_variant_record(variant, configs[variant.name], runs, workdir))

  names = [v.name for v in variants]
  declared = experiment.reference in names
  reference = (experiment.reference if declared else
               min(records, key=lambda r: r["test_error"]["mean"])["name"])
  results = {
      "experiment": experiment.name, "title": experiment.title,
      "question": experiment.question, "motivation": experiment.motivation,
      "method": experiment.method,
      "settings": {"seeds": list(settings.seeds), "epochs": epochs, "quick": settings.quick,
                   "train_examples": len(data.train), "valid_examples": len(data.valid),
                   "test_examples": len(data.test), "platform": jax.default_backend(),
                   "config": shared.to_dict()},
      "variants": records,
      "reference": reference,
      "reference_reason": ("the declared reference" if declared
                           else "the lowest mean test error"),
      "test": {"name": stats.TEST_NAME, "alpha": stats.ALPHA},
      "comparisons": stats.compare({r["name"]: stats.per_seed(r)
                                    for r in records}, reference),
      "trends": [dataclasses.asdict(t) for t in experiment.trends],
  }
  results = write_outputs(experiment, workdir, results, data, start)
  log(f"[{experiment.name}] done in {results['wall_seconds'] / 60:.1f} min: "
      f"{os.path.join(workdir, 'results.md')}")
  return results


def write_outputs(experiment: Experiment, workdir: str, results: dict[str, Any], data: MNIST,
                  start: float) -> dict[str, Any]:
  """Run the experiment's own analysis on the trained runs, draw the figures
  and write ``results.json`` and ``results.md``.

  Args:
    results: the aggregated runs (what :func:`run_experiment` builds).
    start: ``time.perf_counter()`` when the experiment started, for its wall time.
  Returns ``results`` completed with the analysis, the figures and the wall time.
  """
  analysis = experiment.analyse(workdir, results, data) if experiment.analyse else None
  figures = _draw(experiment, results, workdir) + list(analysis.figures if analysis else [])
  results = {**results,
             "analysis": dict(analysis.results) if analysis else {},
             "analysis_markdown": analysis.markdown if analysis else "",
             "figures": [dataclasses.asdict(f) for f in figures],
             "wall_seconds": time.perf_counter() - start,
             "run_seconds": sum(run["total_seconds"] for variant in results["variants"]
                                for run in variant["runs"]),
             "runs_read_back": sum(run["read_back"] for variant in results["variants"]
                                   for run in variant["runs"])}
  write_json(os.path.join(workdir, "results.json"), results)
  with open(os.path.join(workdir, "results.md"), "w") as f:
    f.write(report.results_markdown(results))
  return results


def run_all(experiments: Sequence[Experiment], workdir: str, *, config: ConfigDict,
            data: MNIST, settings: Settings = Settings(), overwrite: bool = False,
            resume: bool = False, log: Log = print) -> list[dict[str, Any]]:
  """Run every experiment into ``workdir/<name>/`` and write ``workdir/report.md``.

  ``settings.variants``, if given, names variants of any of the experiments;
  each experiment runs those of its own, and one with none of them is skipped.
  """
  plans = []
  for experiment in experiments:
    own = None
    if settings.variants:
      own = tuple(n for n in settings.variants if n in {v.name for v in experiment.variants})
      if not own:
        log(f"[{experiment.name}] skipped: none of its variants is in --variants")
        continue
    plans.append((experiment, dataclasses.replace(settings, variants=own)))
  if settings.variants:
    known = {v.name for experiment in experiments for v in experiment.variants}
    unknown = [n for n in settings.variants if n not in known]
    if unknown:
      raise ValueError(f"no experiment has a variant {', '.join(map(repr, unknown))}")
  check_workdir(workdir, overwrite, resume)
  entries = []
  for experiment, own_settings in plans:
    folder = os.path.join(workdir, experiment.name)
    entries.append((folder, run_experiment(experiment, folder, config=config, data=data,
                                           settings=own_settings, overwrite=overwrite,
                                           resume=resume, log=log)))
  with open(os.path.join(workdir, "report.md"), "w") as f:
    f.write(report.index_markdown(entries, workdir))
  return [results for _, results in entries]
