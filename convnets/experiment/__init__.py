"""Experiments: named variants trained with several seeds under identical
settings, compared statistically and written up.

``spec`` (what an experiment declares; imports nothing heavy), ``runner``
(training, aggregation, outputs), ``stats`` (seed statistics and tests),
``report`` (Markdown), ``plots`` (figures), ``trained`` (reading runs back).
The experiments themselves live in the repository's ``experiments/`` folder.
"""

from convnets.experiment.spec import Analysis, Experiment, Figure, Settings, Trend, Variant

__all__ = ["Analysis", "Experiment", "Figure", "Settings", "Trend", "Variant"]
