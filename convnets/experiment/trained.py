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
from convnets.data.transforms import get_preprocessor
from convnets.train.workdir import load_variables


@dataclasses.dataclass(frozen=True)
class TrainedRun:
  """A finished run: its config, its model and its trained variables."""
  config: ConfigDict
  model: nn.Module
  variables: dict[str, Any]


def load_run(run_dir: str) -> TrainedRun:
  """The run in ``run_dir`` (``config.json`` and ``variables.msgpack``)."""
  with open(os.path.join(run_dir, "config.json")) as f:
    config = ConfigDict(json.load(f))
  model = models.create(config.model, **config.model_kwargs)
  return TrainedRun(config, model, load_variables(run_dir))


def logits(model: nn.Module, variables: Any, images: np.ndarray, preprocess: str,
           chunk: int = 1000) -> np.ndarray:
  """``model``'s outputs on raw ``(N, 28, 28)`` uint8 ``images``, preprocessed
  as in training, in chunks of ``chunk`` examples: ``(N, classes)`` float32."""
  prepare = get_preprocessor(preprocess)
  apply = jax.jit(lambda v, x: model.apply(v, prepare(x)))
  return np.concatenate([np.asarray(apply(variables, images[i:i + chunk]))
                         for i in range(0, len(images), chunk)])
