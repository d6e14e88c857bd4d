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
import os
import time
from typing import Any, Callable, Sequence

import jax
from ml_collections import ConfigDict

from convnets import classical, models
from convnets.configs import configure
from convnets.data import MNIST
from convnets.experiment import plots, report, runs, stats
from convnets.experiment.values import flat
from convnets.experiment.spec import (LAUNCHERS, LOCAL, QUICK_EPOCHS, QUICK_EXAMPLES, SUBMITIT,
                                      Experiment, Settings, Variant)
from convnets.train import check_config, interrupts, lock
from convnets.train import workdir as workdir_lib
from convnets.train.workdir import WorkdirError, write_json

REPORT_LOCK = ".report.lock"

Log = Callable[[str], None]


def quick_data(data: MNIST, examples: int = QUICK_EXAMPLES) -> MNIST:
  """The first ``examples`` of every split."""
  return dataclasses.replace(data, train=data.train.take(examples),
                             valid=data.valid.take(examples), test=data.test.take(examples))


def check_workdir(workdir: str, overwrite: bool, resume: bool = False) -> None:
  """Refuse a folder that already holds something, unless ``overwrite`` or ``resume``."""
  if overwrite and resume:
    raise WorkdirError("--overwrite and --resume contradict each other: --resume keeps the "
                       "finished runs in the workdir, --overwrite replaces them; pass one")
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise WorkdirError(f"workdir {workdir} is a file, not a folder; choose another --workdir")
  contents = ([n for n in os.listdir(workdir) if not n.endswith(".lock")]
              if os.path.isdir(workdir) else [])
  if contents and not (overwrite or resume):
    raise WorkdirError(f"workdir {workdir} already holds results "
                       f"({', '.join(sorted(contents)[:5])}); choose a new --workdir, pass "
                       f"--resume to keep its finished runs and train the rest, or "
                       f"--overwrite to replace them (kept in "
                       f"{workdir}{workdir_lib.REPLACED_SUFFIX} until the new ones finish)")


def variant_configs(experiment: Experiment, variants: Sequence[Variant], config: ConfigDict,
                    settings: Settings) -> tuple[ConfigDict, dict[str, ConfigDict]]:
  """The shared config and each variant's, every one checked (model included)."""
  given = settings.epochs is not None  # 0 too: check_config refuses it below
  epochs = settings.epochs if given else QUICK_EPOCHS if settings.quick else experiment.epochs
  shared = configure(config, {**experiment.overrides, "epochs": epochs})
  # A variant may set its own epochs; --config.epochs and --quick set every variant's.
  imposed = {"epochs": epochs} if given or settings.quick else {}
  configs = {v.name: configure(shared, {**v.overrides, **imposed}) for v in variants}
  for name, variant_config in configs.items():
    if settings.quick:  # a smoke run keeps any warm-up and subset, shortened to fit
      optimizer, subset = variant_config.optimizer, variant_config.data.train_subset
      optimizer.warmup_epochs = min(optimizer.warmup_epochs, epochs / 2)
      variant_config.data.train_subset = min(subset, QUICK_EXAMPLES)
    try:
      check_config(variant_config)
      if classical.is_method(variant_config.model.name):
        classical.check(variant_config.model)
      else:
        models.build(variant_config.model)
    except ValueError as e:
      raise ValueError(f"experiment {experiment.name!r}, variant {name!r}: {e}") from None
  return shared, configs


def gather(experiment: Experiment, configs: dict[str, ConfigDict],
           trained: dict[str, list[dict[str, Any]]], settings: Settings, workdir: str
           ) -> list[dict[str, Any]]:
  """The records of every variant with finished runs in ``workdir``, in
  declaration order: those trained now, and those finished earlier. A
  variant with no run folder there keeps its record in ``workdir``'s
  ``results.json``, if it has one (:func:`recorded`)."""
  kept = recorded(experiment, workdir)
  records = []
  for variant in experiment.variants:
    if variant.name in trained:
      found = trained[variant.name]
    elif variant.name in configs:
      found = runs.read_back(variant.name, configs[variant.name], settings.seeds, workdir)
    else:
      found = []
    if found:
      records.append(runs.variant_record(variant, configs[variant.name], found, workdir))
    elif variant.name in kept:
      records.append(kept[variant.name])
  return records


def recorded(experiment: Experiment, workdir: str) -> dict[str, dict[str, Any]]:
  """The variant records of ``workdir/results.json`` by name, those whose
  overrides are still their variant's (compared by short key, so that records
  of the older flat config read alike); none without the file.

  This is how runs trained elsewhere join a report without being retrained:
  copy a committed ``results.json`` into a workdir and run other variants
  there with ``--resume``; the copied records whose runs are absent are kept
  as they are (their runs' read-back flags set), the new runs added.
  """
  path = os.path.join(workdir, "results.json")
  if not os.path.isfile(path):
    return {}
  declared = {v.name: workdir_lib.as_written(flat(v.overrides)) for v in experiment.variants}
  return {record["name"]: {**record, "runs": [{**run, "read_back": True}
                                              for run in record["runs"]]}
          for record in workdir_lib.read_json(path)["variants"]
          if flat(record["overrides"]) == declared.get(record["name"])}


def train_here(experiment: Experiment, selected: Sequence[Variant],
               configs: dict[str, ConfigDict], *, workdir: str, settings: Settings,
               data: MNIST, resume: bool, log: Log) -> dict[str, list[dict[str, Any]]]:
  """Train each of the ``selected`` variants' seeds in this process; their runs by variant."""
  trained = {}
  for i, variant in enumerate(selected):
    prefix = f"[{experiment.name} {i + 1}/{len(selected)} {variant.name}]"
    log(f"{prefix} {variant.label}: {len(settings.seeds)} seed(s), "
        f"{configs[variant.name].epochs} epoch(s)")
    trained[variant.name] = runs.train_variant(
        configs[variant.name], settings.seeds, workdir, variant.name, data=data,
        resume_runs=resume, log=lambda line, p=prefix: log(f"{p} {line}"))
  return trained


def run_experiment(experiment: Experiment, workdir: str, *, config: ConfigDict, data: MNIST,
                   settings: Settings = Settings(), overwrite: bool = False,
                   resume: bool = False, launcher: str = LOCAL, data_dir: str | None = None,
                   log: Log = print) -> dict[str, Any]:
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
    launcher: ``"local"``: train here, one run after another; ``"submitit"``:
      as a job array on ``config.cluster`` (:mod:`convnets.experiment.launch`),
      whose jobs read MNIST from ``data_dir`` (as :func:`convnets.data.load`).
    log: progress lines.

  Every variant's config and model are checked before anything is written.
  Returns what ``results.json`` holds (empty if the jobs were left running).
  """
  start = time.perf_counter()
  selected = experiment.select(list(settings.variants) if settings.variants else None)
  if settings.quick:
    data = quick_data(data)
  # Every variant's config, so that the report can read back runs of variants
  # not selected this time.
  shared, configs = variant_configs(experiment, experiment.variants, config, settings)
  if launcher not in LAUNCHERS:
    raise ValueError(f"launcher {launcher!r}: must be one of {', '.join(LAUNCHERS)}")
  if launcher == SUBMITIT:
    from convnets.experiment import launch  # submitit only where it is asked for
    launch.check_cluster(config.cluster)
  check_workdir(workdir, overwrite, resume)
  workdir_lib.make_folder(workdir)
  if overwrite:
    aside = workdir_lib.set_aside(workdir)
    if aside:
      log(f"[{experiment.name}] earlier results moved to {aside}; deleted once this "
          "experiment finishes")
  trained = {}
  # Ctrl-C or SIGTERM between two runs stops before the next (not lost, nor a kill).
  with interrupts.deferred():
    if launcher == SUBMITIT:  # the report reads back what the jobs trained
      if not launch.run_jobs(selected, configs, workdir, seeds=settings.seeds,
                             cluster=config.cluster, data=data, data_dir=data_dir,
                             resume=resume, log=lambda line: log(f"[{experiment.name}] {line}")):
        return {}
    else:
      trained = train_here(experiment, selected, configs, workdir=workdir, settings=settings,
                           data=data, resume=resume, log=log)
  # Processes training disjoint variants into one workdir take turns here;
  # each report covers every run finished so far.
  with lock.hold(workdir, "reported", name=REPORT_LOCK, wait=True):
    records = gather(experiment, configs, trained, settings, workdir)
    results = aggregate(experiment, records, settings, shared, data)
    results = write_outputs(experiment, workdir, results, data, start)
  workdir_lib.discard_replaced(workdir)
  log(f"[{experiment.name}] done in {results['wall_seconds'] / 60:.1f} min: "
      f"{os.path.join(workdir, 'results.md')}")
  return results


def aggregate(experiment: Experiment, records: list[dict[str, Any]], settings: Settings,
              shared: ConfigDict, data: MNIST) -> dict[str, Any]:
  """What ``results.json`` holds before the analysis: settings, variants,
  the reference and every variant's comparison with it."""
  epochs = shared.epochs
  names = [r["name"] for r in records]
  declared = experiment.reference in names
  tested = [r for r in records if r["test_error"]["mean"] is not None] or records
  reference = (experiment.reference if declared else
               min(tested, key=lambda r: r["test_error"]["mean"] or 0.0)["name"])
  return {
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
  # The figures every experiment gets are a function of results alone (publish redraws them).
  figures = plots.standard(results, workdir) + list(analysis.figures if analysis else [])
  results = {**results,
             "analysis": dict(analysis.results) if analysis else {},
             "figures": [dataclasses.asdict(f) for f in figures],
             "wall_seconds": time.perf_counter() - start,
             "run_seconds": sum(run["total_seconds"] for variant in results["variants"]
                                for run in variant["runs"]),
             "runs_read_back": sum(run["read_back"] for variant in results["variants"]
                                   for run in variant["runs"])}
  write_json(os.path.join(workdir, "results.json"), results)
  markdown = report.results_markdown(results, experiment.text, experiment.summarise)
  with workdir_lib.atomic_path(os.path.join(workdir, "results.md")) as tmp, open(tmp, "w") as f:
    f.write(markdown)
  return results


def run_all(experiments: Sequence[Experiment], workdir: str, *, config: ConfigDict,
            data: MNIST, settings: Settings = Settings(), overwrite: bool = False,
            resume: bool = False, launcher: str = LOCAL, data_dir: str | None = None,
            log: Log = print) -> list[dict[str, Any]]:
  """Run every experiment into ``workdir/<name>/`` and write ``workdir/report.md``
  (once every experiment has its report: not while jobs are left running).

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
  with interrupts.deferred():  # as between runs, between experiments
    for experiment, own_settings in plans:
      folder = os.path.join(workdir, experiment.name)
      entries.append((folder, run_experiment(experiment, folder, config=config, data=data,
                                             settings=own_settings, overwrite=overwrite,
                                             resume=resume, launcher=launcher,
                                             data_dir=data_dir, log=log)))
  if not all(results for _, results in entries):
    return [results for _, results in entries]
  with workdir_lib.atomic_path(os.path.join(workdir, "report.md")) as tmp, open(tmp, "w") as f:
    f.write(report.index_markdown(entries, workdir))
  return [results for _, results in entries]
