"""The entry point: train a model, or run a research experiment, on MNIST.

  python run_experiment.py                       # the lecture ConvNet, to >= 99%
  python run_experiment.py --model=mlp_300 --config.epochs=20
  python run_experiment.py --model=convnet --describe
  python run_experiment.py --experiment=pooling --workdir=W   # see experiments/cli.py

Hyperparameters come from the config file (``--config``, default
``convnets/configs/default.py``), each overridable as ``--config.NAME=VALUE``.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from convnets.runtime import maybe_initialize_distributed, use_fast_malloc
from experiments import cli as experiment_cli  # defines --experiment, --seeds, ...

FLAGS = flags.FLAGS
flags.adopt_module_key_flags(experiment_cli)  # list them in --help too
_CONFIG = config_flags.DEFINE_config_file(
    "config", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "convnets", "configs", "default.py"),
    "Python config file with get_config(); override fields as --config.NAME=VALUE.")
flags.DEFINE_string("workdir", None, "Folder for this run's outputs (default: a new "
                    "timestamped folder under runs/). Must be new or empty.")
flags.DEFINE_string("data_dir", None, "Folder with the four MNIST IDX .gz files (or a mnist/ "
                    "folder of them); default $CONVNETS_DATA_DIR, else ~/.cache/convnets/mnist.")
flags.DEFINE_enum("data_source", None, ["idx", "tfds"], "Overrides config.data_source.")
flags.DEFINE_bool("download", False, "Fetch missing MNIST files into the data folder "
                  "(SHA-256 verified).")
flags.DEFINE_string("model", None, "Registered model name; overrides config.model.")
flags.DEFINE_integer("seed", None, "Random seed; overrides config.seed.")
flags.DEFINE_bool("overwrite", False, "Replace the outputs of an earlier run in --workdir.")
flags.DEFINE_bool("describe", False, "Print the model's settings and its layer table (weights, "
                  "biases, connections) and exit without training.")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  # JAX logs every backend it probes (no TPU here, ...) at INFO.
  logging.set_verbosity(logging.WARNING)
  maybe_initialize_distributed()
  # Imported here so that --help and flag errors do not pay for JAX.
  from convnets import models
  from convnets.data import DataError
  from convnets.train import train_and_evaluate
  from convnets.train.workdir import WorkdirError, default_workdir

  config = _CONFIG.value
  if FLAGS.model is not None:
    config.model = FLAGS.model
  if FLAGS.seed is not None:
    config.seed = FLAGS.seed
  if FLAGS.data_source is not None:
    config.data_source = FLAGS.data_source
  if FLAGS.describe:
    from convnets.data.preprocessing import input_shape
    from convnets.describe import describe
    try:
      print(describe(config.model, config.model_kwargs, input_shape(config.preprocess)))
    except ValueError as e:
      sys.exit(f"error: {e}")
    return
  if FLAGS.experiment:
    try:
      experiment_cli.run(config, FLAGS.workdir, data_dir=FLAGS.data_dir,
                         download=FLAGS.download, overwrite=FLAGS.overwrite)
    except (DataError, WorkdirError, ValueError) as e:
      sys.exit(f"error: {e}")
    return
  workdir = FLAGS.workdir or default_workdir(config.model)
  try:
    summary = train_and_evaluate(config, workdir, data_dir=FLAGS.data_dir,
                                 download=FLAGS.download, overwrite=FLAGS.overwrite)
  except (DataError, WorkdirError, ValueError) as e:
    sys.exit(f"error: {e}")
  print(f"\n{summary['model']} ({summary['params']:,} parameters), seed {summary['seed']}: "
        f"test accuracy {summary['test_accuracy']:.4f} (error "
        f"{100 * summary['test_error']:.2f}%), valid accuracy {summary['valid_accuracy']:.4f}; "
        f"{summary['epochs']} epochs in {summary['train_seconds']:.1f}s "
        f"({summary['seconds_per_epoch']:.1f}s/epoch, {summary['examples_per_second']:,.0f} "
        f"examples/s, {summary['compile_seconds']:.1f}s compiling) on {summary['platform']}; "
        f"outputs in {workdir}")


if __name__ == "__main__":
  use_fast_malloc()
  app.run(main)
