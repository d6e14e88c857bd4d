"""An experiment's runs as a submitit job array (``--launcher=submitit``).

The runs (variant x seed) are grouped ``config.cluster.runs_per_job`` to a
job and submitted as one array (``executor.map_array``: one ``sbatch
--array`` on SLURM). Every job trains its share into the experiment's shared
workdir, each run under its own lock (:mod:`convnets.train.lock`); a run
that finished earlier is read back, an unfinished one resumes from its Orbax
checkpoint (:mod:`convnets.train.resume`). When SLURM is about to preempt a
job or its time runs out, submitit sends ``SIGUSR2``: the job saves a
checkpoint at the next step and is requeued (:class:`TrainShare` is a
``submitit.helpers.Checkpointable``), so that it goes on where it stopped.
SIGTERM or SIGINT checkpoint and end the job; ``--resume`` submits the runs
that did not finish. The last step waits for the jobs and hands back to the
runner, which writes the report over every finished run
(:mod:`convnets.experiment.runner`); with ``config.cluster.wait=False`` a
later ``--resume`` writes it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import time
from typing import Any, Callable, Sequence

import submitit
from ml_collections import ConfigDict

from convnets.data import MNIST, load
from convnets.data.mnist import find_files
from convnets.experiment import runs
from convnets.experiment.spec import Variant
from convnets.train import interrupts
from convnets.train.checks import ConfigError

EXECUTORS = ("slurm", "local", "debug")
LOG_FOLDER = "submitit"
# The signal submitit's jobs get before a preemption or their time limit
# (its default; ``sbatch --signal=USR2@...``).
PREEMPT_SIGNAL = signal.SIGUSR2
POLL_SECONDS = 1.0

Log = Callable[[str], None]


class JobsFailed(ValueError):
  """Some jobs of the array did not finish; the message names them and their logs."""


@dataclasses.dataclass(frozen=True)
class Run:
  """One run of the sweep: a variant's config trained with one seed."""
  variant: str
  seed: int
  config: ConfigDict


@dataclasses.dataclass(frozen=True)
class Share:
  """What one job trains, and where it finds the data.

  Attributes:
    workdir: the experiment's folder (runs in ``runs/<variant>/seed<k>/``).
    runs: the job's runs, trained one after another.
    data_dir: the resolved data folder (None: the source's default).
    name, source, train_size: as ``config.data``.
    examples: how many of each split (train, valid, test) the runner's data
      holds: the job takes as many from the start of each (``--quick``).
  """
  workdir: str
  runs: tuple[Run, ...]
  data_dir: str | None
  name: str
  source: str
  train_size: int
  examples: tuple[int, int, int]


def check_cluster(cluster: ConfigDict) -> None:
  """Raise ConfigError naming the first unusable field of ``config.cluster``."""
  checks = {
      "executor": (lambda v: v in EXECUTORS, f"must be one of {', '.join(EXECUTORS)}"),
      "gpus_per_job": (lambda v: v >= 0, "must be an integer >= 0"),
      "cpus_per_job": (lambda v: v >= 1, "must be an integer >= 1"),
      "mem_gb": (lambda v: v >= 0, "must be >= 0 (0 = the partition's default)"),
      "time_limit_minutes": (lambda v: v >= 1, "must be an integer >= 1"),
      "runs_per_job": (lambda v: v >= 1, "must be an integer >= 1"),
      "max_parallel": (lambda v: v >= 0, "must be an integer >= 0 (0 = no limit)"),
  }
  for field, (ok, why) in checks.items():
    if not ok(cluster[field]):
      raise ConfigError(f"config.cluster.{field}={cluster[field]!r}: {why}")
  if cluster.executor == "slurm" and shutil.which("sbatch") is None:
    raise ConfigError("config.cluster.executor='slurm': no SLURM here (sbatch is not on the "
                      "PATH); submit from the cluster's login node, or set "
                      "--config.cluster.executor=local to run the jobs on this machine")


def pending_runs(variants: Sequence[Variant], configs: dict[str, ConfigDict],
                 seeds: Sequence[int], workdir: str, resume: bool) -> list[Run]:
  """Every run of ``variants`` x ``seeds`` that has not finished in ``workdir``
  (with ``resume``; a finished run of another config raises WorkdirError)."""
  todo = []
  for variant in variants:
    config = configs[variant.name]
    for seed in seeds:
      folder = runs.run_dir(workdir, variant.name, seed)
      if resume and runs.finished_run(folder, config, seed) is not None:
        continue
      todo.append(Run(variant=variant.name, seed=seed, config=config))
  return todo


def group(todo: Sequence[Run], runs_per_job: int) -> list[tuple[Run, ...]]:
  """``todo`` in consecutive groups of ``runs_per_job`` (the last may be shorter)."""
  return [tuple(todo[i:i + runs_per_job]) for i in range(0, len(todo), runs_per_job)]


def data_folder(data_dir: str | None, name: str, source: str) -> str | None:
  """The absolute folder the jobs read data set ``name`` from, resolved here
  (where the flag and ``$CONVNETS_DATA_DIR`` are known)."""
  if source == "idx":
    return os.path.dirname(os.path.abspath(find_files(data_dir, name)["train_images"]))
  return os.path.abspath(data_dir) if data_dir else None


def share_data(share: Share) -> MNIST:
  """The data the runner trains on, read again inside the job."""
  data = load(share.data_dir, source=share.source, name=share.name,
              train_size=share.train_size)
  n_train, n_valid, n_test = share.examples
  return dataclasses.replace(data, train=data.train.take(n_train),
                             valid=data.valid.take(n_valid), test=data.test.take(n_test))


def train_share(share: Share, log: Log = print) -> list[dict[str, Any]]:
  """Train (or read back, or resume) each run of ``share``; their summaries."""
  data = share_data(share)
  done = []
  for run in share.runs:
    prefix = f"[{run.variant} seed {run.seed}]"
    record, = runs.train_variant(run.config, [run.seed], share.workdir, run.variant, data=data,
                                 resume_runs=True, log=lambda line, p=prefix: log(f"{p} {line}"))
    done.append({"variant": run.variant, "seed": run.seed, "test_error": record["test_error"]})
  return done


class TrainShare(submitit.helpers.Checkpointable):
  """The job: :func:`train_share`. Its inherited ``checkpoint(share)``, which
  submitit calls on preemption, resubmits ``self(share)``: the requeued job
  reads back the share's finished runs and resumes the others from their
  checkpoints."""

  def __call__(self, share: Share) -> list[dict[str, Any]]:
    requeue = signal.getsignal(PREEMPT_SIGNAL)  # submitit's: checkpoint() and requeue
    preempted = []

    def stop_at_next_step(signum, frame):
      preempted.append(signum)
      os.kill(os.getpid(), signal.SIGTERM)  # the training loop's safe stop: a checkpoint

    with interrupts.deferred():
      if callable(requeue):
        signal.signal(PREEMPT_SIGNAL, stop_at_next_step)
      try:
        return train_share(share)
      except interrupts.Interrupted:
        if not preempted:
          raise
      finally:
        signal.signal(PREEMPT_SIGNAL, requeue)
    requeue(PREEMPT_SIGNAL, None)  # checkpoint(share), requeue, exit
    raise AssertionError("submitit's handler ends the job")


def make_executor(cluster: ConfigDict, folder: str) -> submitit.AutoExecutor:
  """The submitit executor ``config.cluster`` describes, logging to ``folder``."""
  executor = submitit.AutoExecutor(folder=folder, cluster=cluster.executor)
  params = dict(timeout_min=cluster.time_limit_minutes, cpus_per_task=cluster.cpus_per_job,
                gpus_per_node=cluster.gpus_per_job, tasks_per_node=1, nodes=1,
                name="convnets")
  if cluster.mem_gb:
    params["mem_gb"] = cluster.mem_gb
  slurm = {"slurm_partition": cluster.partition, "slurm_account": cluster.account,
           "slurm_array_parallelism": cluster.max_parallel}
  executor.update_parameters(**params, **{k: v for k, v in slurm.items() if v})
  return executor


def wait_for(jobs: Sequence[submitit.Job], folder: str, log: Log) -> None:
  """Wait until every job has ended (a signal stops the wait, not the jobs);
  raise JobsFailed naming those that did not finish."""
  remaining = list(jobs)
  while remaining:
    interrupts.stop_if_pending(f"waiting for {len(remaining)} job(s), which go on; run the "
                               "same command with --resume later to write the report")
    remaining = [job for job in remaining if not job.done()]
    if remaining:
      time.sleep(POLL_SECONDS)
  failed = [(job, job.exception()) for job in jobs]
  failed = [(job, e) for job, e in failed if e is not None]
  if failed:
    job, e = failed[0]
    reason = " ".join(str(e).split())[-300:]
    raise JobsFailed(f"{len(failed)} of {len(jobs)} job(s) did not finish (job {job.job_id}: "
                     f"{reason}; logs in {folder}); run the same command with --resume to "
                     "train their unfinished runs")
  log(f"all {len(jobs)} job(s) finished")


def run_jobs(variants: Sequence[Variant], configs: dict[str, ConfigDict], workdir: str, *,
             seeds: Sequence[int], cluster: ConfigDict, data: MNIST, data_dir: str | None,
             resume: bool, log: Log = print) -> bool:
  """Submit the unfinished runs of ``variants`` x ``seeds`` as a job array
  and, with ``cluster.wait``, wait for it. Returns whether every run has
  finished (the runner then writes the report)."""
  todo = pending_runs(variants, configs, seeds, workdir, resume)
  if not todo:
    return True
  first = todo[0].config
  template = Share(workdir=os.path.abspath(workdir), runs=(),
                   data_dir=data_folder(data_dir, first.data.name, first.data.source),
                   name=first.data.name, source=first.data.source,
                   train_size=first.data.train_size,
                   examples=(len(data.train), len(data.valid), len(data.test)))
  shares = [dataclasses.replace(template, runs=runs_)
            for runs_ in group(todo, cluster.runs_per_job)]
  folder = os.path.abspath(cluster.folder or os.path.join(workdir, LOG_FOLDER))
  jobs = make_executor(cluster, folder).map_array(TrainShare(), shares)
  log(f"submitted {len(todo)} run(s) as {len(jobs)} {cluster.executor} job(s) "
      f"({', '.join(j.job_id for j in jobs[:3])}{', ...' if len(jobs) > 3 else ''}); "
      f"logs in {folder}")
  if not cluster.wait:
    log("not waiting (config.cluster.wait=False): when the jobs have finished, run the same "
        "command with --resume to write the report")
    return False
  wait_for(jobs, folder, log)
  return True
