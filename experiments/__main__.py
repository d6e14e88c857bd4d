"""The ``convnets`` command (``pyproject.toml``), as ``run_experiment.py``: the
command line of :mod:`convnets.cli` with this package as its catalogue."""

import functools

from absl import app, flags

import experiments
from convnets import cli
from convnets.runtime import use_fast_malloc

flags.adopt_module_key_flags(cli)  # listed by --help


def main() -> None:
  """Parse the flags and run what they ask for."""
  use_fast_malloc()
  app.run(functools.partial(cli.main, catalogue=experiments), flags_parser=cli.parse_flags)


if __name__ == "__main__":
  main()
