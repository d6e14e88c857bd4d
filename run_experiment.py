"""The entry point: train a model, describe it, or run a research experiment.

  python run_experiment.py                              # the lecture ConvNet, to >= 99%
  python run_experiment.py --model=mlp_300 --config.epochs=20
  python run_experiment.py --model=lenet5 --describe
  python run_experiment.py --experiment=pooling --workdir=W

The flags and what they run: :mod:`convnets.cli`; the experiments:
the ``experiments`` package.
"""

import functools

from absl import app, flags

import experiments
from convnets import cli
from convnets.runtime import use_fast_malloc

flags.adopt_module_key_flags(cli)  # listed by --help

if __name__ == "__main__":
  use_fast_malloc()
  app.run(functools.partial(cli.main, catalogue=experiments), flags_parser=cli.parse_flags)
