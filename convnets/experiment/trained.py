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
from convnets.data import MNIST
from convnets.data.preprocessing import Preprocessor, fit_preprocessor
from convnets.train.loop import training_split
from convnets.train.workdir import load_variables


@dataclasses.dataclass(frozen=True)
class TrainedRun:
  """A finished run: its config, its model, its trained variables and its
  input preprocessing, fitted again to the same training examples (PCA/ZCA
  whitening) so that the model sees its inputs as in training."""
  config: ConfigDict
  model: nn.Module
  variables: dict[str, Any]
  preprocess: Preprocessor


def load_run(run_dir: str, data: MNIST) -> TrainedRun:
  """The run in ``run_dir`` (``config.json`` and ``variables.msgpack``),
  trained on ``data``."""
  with open(os.path.join(run_dir, "config.json")) as f:
    config = ConfigDict(json.load(f))
  model = models.create(config.model, **config.model_kwargs)
  preprocess = fit_preprocessor(config.preprocess, training_split(config, data).images)
  return TrainedRun(config, model, load_variables(run_dir), preprocess)


def logits(model: nn.Module, variables: Any, images: np.ndarray, preprocess: Preprocessor,
           chunk: int = 1000) -> np.ndarray:
  """``model``'s outputs on raw ``(N, 28, 28)`` uint8 ``images``, prepared by
  ``preprocess`` (a run's :attr:`TrainedRun.preprocess`), in chunks of
  ``chunk`` examples: ``(N, classes)`` float32."""
  apply = jax.jit(lambda v, x: model.apply(v, preprocess(x)))
  return np.concatenate([np.asarray(apply(variables, images[i:i + chunk]))
                         for i in range(0, len(images), chunk)])
