"""Pooling functions in the lecture's simple ConvNet: max, average, sum and
Lp pooling (p = 2, p = 8, p learned), against no pooling at all.

  python run_experiment.py --experiment=pooling --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import os

from typing import Any, Mapping

import numpy as np

from convnets.data import MNIST
from convnets.experiment import Analysis, Experiment, Variant
from convnets.experiment.spec import load_text
from convnets.experiment.values import Finding, Value, setting
from convnets.train.workdir import load_variables

LEARNED = "lp_learned"


def learned_p(variables: Mapping[str, Any]) -> float:
  """The first layer's Lp exponent, stored as ``rho`` with ``p = 1 + softplus(rho)``
  (:class:`convnets.layers.Pool2D`)."""
  rho = float(np.asarray(variables["params"]["conv1"]["pool"]["rho"]))
  return 1.0 + float(np.logaddexp(0.0, rho))


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """The exponent each seed of the learnable-p variant ended with (read from
  its variables) and the one it started from."""
  record = next((v for v in results["variants"] if v["name"] == LEARNED), None)
  if record is None:
    return Analysis({})
  values = [learned_p(load_variables(os.path.join(workdir, run["workdir"])))
            for run in record["runs"]]
  return Analysis({"learned_p": values, "learned_p_start": setting(record, "pool_p")})


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """The learned exponent per seed, and how far training moved it (negative:
  towards sum pooling, p = 1; positive: towards max pooling)."""
  analysis = results["analysis"]
  if "learned_p" not in analysis:
    return []
  start, values = analysis["learned_p_start"], analysis["learned_p"]
  return [Value("learned_p", f"learned Lp exponent p after training (started at {start:g}), "
                "per seed", values),
          Value("learned_p_change", "its change from the start, p − p₀, per seed",
                [p - start for p in values])]


def _pool(kind: str, **extra: Any) -> dict[str, Any]:
  return {"model.pooling": kind, **{f"model.{k}": v for k, v in extra.items()}}


EXPERIMENT = Experiment(
    name="pooling",
    **load_text(__file__).as_fields(),
    variants=(
        Variant("max", "max", _pool("max")),
        Variant("avg", "average", _pool("avg")),
        Variant("sum", "sum", _pool("sum")),
        Variant("lp2", "L2", _pool("lp", pool_p=2.0)),
        Variant("lp8", "L8", _pool("lp", pool_p=8.0)),
        Variant(LEARNED, "Lp, p learned (from 2)", _pool("lp", pool_p=2.0, learnable_p=True)),
        Variant("none_stride2", "no pooling, stride 2", _pool("none", conv_stride=2)),
    ),
    epochs=3,
    reference="max",
    analyse=analyse,
    summarise=summarise,
)
