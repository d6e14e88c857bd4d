"""What an experiment declares: its variants, its text and its extra plots.

An experiment is data, not code: a set of named variants (config overrides)
trained under otherwise identical settings, the text a report needs (the
coursework's research question, motivation and method), and which quantities
to plot test error against. :mod:`convnets.experiment.runner` does the rest.
This module imports nothing heavy, so that listing experiments (``--help``)
does not start JAX.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Mapping, Sequence

from convnets.experiment.values import Finding


@dataclasses.dataclass(frozen=True)
class Variant:
  """One arm of an experiment.

  Attributes:
    name: short identifier, also its folder name (``runs/<name>/``).
    label: how tables and plots name it.
    overrides: dotted config keys to values, applied to the shared config,
      e.g. ``{"model.pooling": "avg"}``; ``"epochs"`` gives the variant
      its own number of epochs (``--epochs`` and ``--quick`` still set it).
    family: variants of one family are joined by a line in trend plots
      (e.g. "ConvNet" and "MLP" in the depth experiment).
    coords: this variant's position on declared trend axes, e.g. ``{"depth": 2}``.
  """
  name: str
  label: str
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  family: str = ""
  coords: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Trend:
  """A plot of test error (mean +- std over seeds) against ``x``: a key of the
  variants' ``coords``, or a measured quantity of :data:`MEASURED`."""
  x: str
  label: str
  log_x: bool = False


MEASURED = ("params", "connections", "seconds_per_epoch")

# How an experiment's runs are trained: here, one after another, or as a
# submitit job array (convnets.experiment.launch).
LOCAL, SUBMITIT = "local", "submitit"
LAUNCHERS = (LOCAL, SUBMITIT)

# --quick: one epoch on the first 2,000 examples of each split, one seed:
# enough to exercise every code path in well under a minute per experiment.
QUICK_EPOCHS = 1
QUICK_EXAMPLES = 2_000


@dataclasses.dataclass(frozen=True)
class Settings:
  """How to run an experiment (the command-line flags).

  Attributes:
    seeds: the seeds every variant is trained with.
    epochs: epochs per run; None: the experiment's own (``QUICK_EPOCHS`` with ``quick``).
    variants: names of the variants to run; None: all.
    quick: a smoke run on ``QUICK_EXAMPLES`` examples of each split.
  """
  seeds: tuple[int, ...] = (0, 1, 2)
  epochs: int | None = None
  variants: tuple[str, ...] | None = None
  quick: bool = False


@dataclasses.dataclass(frozen=True)
class Figure:
  """A PNG in the experiment's folder and what it shows."""
  file: str
  caption: str


@dataclasses.dataclass(frozen=True)
class Analysis:
  """What an experiment's analysis of its trained runs adds: the numbers that
  need the run folders or the data (e.g. weights read back), which go to
  ``results.json["analysis"]`` for its ``summarise`` to read, and figures."""
  results: Mapping[str, Any]
  figures: tuple[Figure, ...] = ()


# ``analyse(workdir, results, data) -> Analysis``: runs after every variant
# has trained; ``results`` is what ``results.json`` will hold so far (each
# run's folder is ``results["variants"][i]["runs"][j]["workdir"]``, relative
# to ``workdir``), ``data`` the MNIST splits the runs used.
Analyser = Callable[[str, Mapping[str, Any], Any], Analysis]

# ``summarise(results) -> findings``: the experiment's named values
# (:mod:`convnets.experiment.values`), from what ``results.json`` holds alone
# (its ``"analysis"`` included), so that a committed one re-renders its report.
Summariser = Callable[[Mapping[str, Any]], Sequence[Finding]]

SECTIONS = {"Question": "question", "Motivation": "motivation", "Method": "method",
            "Limitations": "limitations"}


@dataclasses.dataclass(frozen=True)
class Text:
  """An experiment's prose, written in ``experiments/<name>.md`` as a
  ``# title`` line and the sections ``## Question``, ``## Motivation``,
  ``## Method`` and, optionally, ``## Limitations`` (what it does not show).
  Measured numbers never appear here: they live in ``results.json``."""
  title: str
  question: str
  motivation: str
  method: str
  limitations: str = ""

  def as_fields(self) -> dict[str, str]:
    """The :class:`Experiment` fields of the same names."""
    return dataclasses.asdict(self)


def load_text(path: str) -> Text:
  """The :class:`Text` in the Markdown file ``path``, or beside it (``x.py``
  reads ``x.md``). Raises ValueError for an unknown or missing section."""
  path = os.path.splitext(path)[0] + ".md"
  with open(path, encoding="utf-8") as f:
    lines = f.read().splitlines()
  title, sections, current = None, {}, None
  for line in lines:
    if line.startswith("# ") and title is None:
      title = line[2:].strip()
    elif line.startswith("## "):
      heading = line[3:].strip()
      if heading not in SECTIONS:
        raise ValueError(f"{path}: unknown section {heading!r}; known: {', '.join(SECTIONS)}")
      current = SECTIONS[heading]
      sections[current] = []
    elif current is not None:
      sections[current].append(line)
    elif line.strip():
      raise ValueError(f"{path}: text before the first section: {line[:60]!r}")
  missing = ["a '# title' line"] if title is None else []
  missing += [f"## {heading}" for heading, key in SECTIONS.items()
              if key not in sections and key != "limitations"]
  if missing:
    raise ValueError(f"{path}: no {', '.join(missing)}")
  return Text(title, **{key: "\n".join(body).strip() for key, body in sections.items()})


@dataclasses.dataclass(frozen=True)
class Experiment:
  """A research question answered by training ``variants`` under identical settings.

  Attributes:
    name: registry name, also the folder name under ``--experiment=all``.
    title: one line for headings.
    question, motivation, method: the report's sections (Markdown); the
      runner appends the shared training settings and the statistical test
      to ``method``.
    variants: the arms, in table order.
    epochs: training epochs of every variant that does not set its own
      (chosen to fit the time budget; ``--epochs`` overrides both).
    reference: the variant every other is tested against; None: the one with
      the lowest mean test error.
    trends: extra plots of test error against a variant property.
    analyse: optional experiment-specific analysis of the trained runs.
    overrides: dotted config keys to values applied to the shared config
      before any variant's own (e.g. ``{"augment": "none"}`` for every
      variant), so that the report states them as the shared settings.
    limitations: what the experiment does not show (the report's last words).
    summarise: the experiment's named values, computed from ``results.json``
      (see :data:`Summariser`); None: the report's generic ones only.
  """
  name: str
  title: str
  question: str
  motivation: str
  method: str
  variants: tuple[Variant, ...]
  epochs: int
  reference: str | None = None
  trends: tuple[Trend, ...] = ()
  analyse: Analyser | None = None
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  limitations: str = ""
  summarise: Summariser | None = None

  @property
  def text(self) -> Text:
    """The report's prose (what :func:`load_text` read for it)."""
    return Text(self.title, self.question, self.motivation, self.method, self.limitations)

  def __post_init__(self) -> None:
    names = [v.name for v in self.variants]
    if len(set(names)) != len(names):
      raise ValueError(f"experiment {self.name!r}: duplicate variant names in {names}")
    if self.reference is not None and self.reference not in names:
      raise ValueError(f"experiment {self.name!r}: reference {self.reference!r} is not a "
                       f"variant ({', '.join(names)})")
    for trend in self.trends:
      if trend.x not in MEASURED and not all(trend.x in v.coords for v in self.variants):
        raise ValueError(f"experiment {self.name!r}: trend {trend.x!r} is neither measured "
                         f"({', '.join(MEASURED)}) nor a coordinate of every variant")

  def select(self, names: list[str] | None) -> tuple[Variant, ...]:
    """The variants called ``names`` (all when None), in declaration order."""
    if names is None:
      return self.variants
    known = [v.name for v in self.variants]
    unknown = [n for n in names if n not in known]
    if unknown:
      raise ValueError(f"experiment {self.name!r} has no variant {', '.join(map(repr, unknown))}"
                       f"; its variants: {', '.join(known)}")
    return tuple(v for v in self.variants if v.name in names)
