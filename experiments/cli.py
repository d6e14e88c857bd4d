"""The experiments' command line: the flags that ``run_experiment.py`` and
every ``experiments/<name>.py`` script share, and what they run.

  python run_experiment.py --experiment=pooling --workdir=W [--seeds=3]
      [--variants=max,avg] [--epochs=N] [--quick] [--overwrite | --resume]
  python experiments/pooling.py --workdir=W ...          # the same
  python run_experiment.py --experiment=all --workdir=W  # W/<name>/ each, W/report.md

The other flags (``--workdir``, ``--overwrite``, ``--data_dir``, ``--config``
and its overrides, ``--seed``: the first seed) are ``run_experiment.py``'s,
which a script reuses by running its ``main``.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from absl import app, flags
from ml_collections import ConfigDict

from convnets.experiment.spec import Settings
from experiments import NAMES, get

ALL = "all"
FLAGS = flags.FLAGS
flags.DEFINE_string("experiment", None, f"Run a research experiment instead of one training "
                    f"run: {', '.join(NAMES)}, or {ALL} (each into WORKDIR/<name>/).")
flags.DEFINE_integer("seeds", 3, "Experiments: seeds per variant (seeds --seed, --seed + 1, "
                     "...).", lower_bound=1)
flags.DEFINE_list("variants", None, "Experiments: a comma-separated subset of the "
                  f"experiment's variants (default: all); with --experiment={ALL}, variants of "
                  "any experiments, each running its own (those with none are skipped).")
flags.DEFINE_integer("epochs", None, "Experiments: epochs per run (default: the "
                     "experiment's own).", lower_bound=1)
flags.DEFINE_bool("resume", False, "Experiments: go on with an interrupted experiment in "
                  "--workdir: runs that finished with the same config are kept and read back, "
                  "the rest are trained, and the tables and figures are written over all.")
flags.DEFINE_bool("quick", False, "Experiments: a smoke run: 1 epoch on 2,000 examples of "
                  "each split, 1 seed (unless --epochs or --seeds are given).")


def settings(first_seed: int) -> Settings:
  """The run settings the flags ask for."""
  seeds = 1 if FLAGS.quick and not FLAGS["seeds"].present else FLAGS.seeds
  return Settings(seeds=tuple(range(first_seed, first_seed + seeds)), epochs=FLAGS.epochs,
                  variants=tuple(FLAGS.variants) if FLAGS.variants else None,
                  quick=FLAGS.quick)


def run(config: ConfigDict, workdir: str | None, *, data_dir: str | None, download: bool,
        overwrite: bool, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
  """Run ``--experiment`` with ``config`` as every variant's shared config.

  Returns the results of each experiment run. Raises ValueError (and its
  subclasses DataError, WorkdirError) for anything the user can fix.
  """
  # Imported here so that --help and flag errors do not pay for JAX.
  from convnets.data import load
  from convnets.experiment.runner import run_all, run_experiment
  from convnets.train.workdir import default_workdir

  name = FLAGS.experiment
  experiments = [get(n) for n in NAMES] if name == ALL else [get(name)]
  run_settings = settings(config.seed)
  workdir = workdir or default_workdir(f"experiment-{name}")
  data = load(data_dir, source=config.data_source, download_missing=download,
              train_size=config.train_size)
  if name == ALL:
    return run_all(experiments, workdir, config=config, data=data, settings=run_settings,
                   overwrite=overwrite, resume=FLAGS.resume, log=log)
  return [run_experiment(experiments[0], workdir, config=config, data=data,
                         settings=run_settings, overwrite=overwrite, resume=FLAGS.resume,
                         log=log)]


def main(name: str) -> None:
  """Run experiment ``name`` through ``run_experiment.py``'s ``main`` and flags
  (what ``python experiments/<name>.py`` does)."""
  import run_experiment
  from convnets.runtime import use_fast_malloc

  use_fast_malloc()
  app.run(run_experiment.main, argv=[sys.argv[0], f"--experiment={name}", *sys.argv[1:]])
