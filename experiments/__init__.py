"""The lecture's research questions, one experiment per module, by name.

Each module ``experiments/<name>.py`` defines ``EXPERIMENT`` (a
:class:`convnets.experiment.Experiment`) and runs it when executed as a
script. Modules are imported on demand, so that listing the names (``--help``)
does not start JAX.
"""

from __future__ import annotations

import importlib

from convnets.experiment import Experiment

NAMES = ("xcorr_vs_conv", "pooling", "depth", "early_stopping", "regularisation",
         "transfer_functions", "preprocessing", "augmentation", "batch_norm", "skip_connections",
         "lecun1998", "best_search", "kernels", "translation")


def get(name: str) -> Experiment:
  """The experiment called ``name``."""
  if name not in NAMES:
    raise ValueError(f"unknown experiment {name!r}; known: {', '.join(NAMES)}, or all")
  return importlib.import_module(f"experiments.{name}").EXPERIMENT
