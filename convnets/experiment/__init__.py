"""Experiments: named variants trained with several seeds under identical
settings, compared statistically and written up.

``spec`` (what an experiment declares, its text file; imports nothing heavy),
``runner`` (training, aggregation, outputs), ``stats`` (seed statistics and
tests), ``values`` (an analysis's named values), ``report`` and
``discussion`` (the one renderer of every ``results.md``; ``formats``, how
numbers read), ``plots`` (figures), ``trained`` (reading runs back),
``best_runs`` (one configuration's runs across seeds and platforms),
``overview`` and ``publish`` (the README's generated tables, and re-rendering
everything from the result files). The experiments themselves live in the
repository's ``experiments/`` folder.
"""

from convnets.experiment.spec import (Analysis, Experiment, Figure, Settings, Text, Trend,
                                      Variant, load_text)

__all__ = ["Analysis", "Experiment", "Figure", "Settings", "Text", "Trend", "Variant",
           "load_text"]
