"""The entry point: train a model, describe it, or run a research experiment.

  python run_experiment.py                              # the lecture ConvNet, to >= 99%
  python run_experiment.py --model=mlp_300 --config.epochs=20
  python run_experiment.py --model=lenet5 --describe
  python run_experiment.py --experiment=pooling --workdir=W

The same command as ``python -m experiments`` and the installed ``convnets``:
the flags and what they run are :mod:`convnets.cli`'s, with the experiments
package as its catalogue.
"""

from absl import flags

from convnets import cli
from experiments.__main__ import main

flags.adopt_module_key_flags(cli)  # --help lists the flags of the main module

if __name__ == "__main__":
  main()
