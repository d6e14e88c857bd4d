"""Trained runs read back from their folders, for analyses after training."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import flax.linen as nn
import jax
import numpy as np
from ml_collections import ConfigDict

from convnets import models
from convnets.data.preprocessing import Preprocessor
from convnets.train.pipeline import load_preprocessor
from convnets.train.workdir import load_variables


@dataclasses.dataclass(frozen=True)
class TrainedRun:
  """A finished run: its config, its model, its trained variables and the
  input preprocessing it was trained with (as fitted to its training split)."""
  config: ConfigDict
  model: nn.Module
  variables: dict[str, Any]
  preprocess: Preprocessor


def load_run(run_dir: str) -> TrainedRun:
  """The run in ``run_dir`` (``config.json``, ``variables.msgpack``,
  ``preprocessor.npz``)."""
  with open(os.path.join(run_dir, "config.json")) as f:
    config = ConfigDict(json.load(f))
  return TrainedRun(config, models.build(config.model), load_variables(run_dir),
                    load_preprocessor(run_dir, config))


def logits(model: nn.Module, variables: Any, images: np.ndarray, preprocess: Preprocessor,
           chunk: int = 1000) -> np.ndarray:
  """``model``'s outputs on raw ``(N, 28, 28)`` uint8 ``images``, prepared by
  ``preprocess`` (a run's :attr:`TrainedRun.preprocess`), in chunks of
  ``chunk`` examples: ``(N, classes)`` float32."""
  apply = jax.jit(lambda v, x: model.apply(v, preprocess(x)))
  return np.concatenate([np.asarray(apply(variables, images[i:i + chunk]))
                         for i in range(0, len(images), chunk)])
