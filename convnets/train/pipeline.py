"""A run's data pipeline: the splits on the device, the preprocessor fitted
to the training split, and the augmentation of the config's ``augment``
section.

The raw uint8 digits live on the device; preprocessing and augmentation run
inside the jitted steps, per batch (:mod:`convnets.train.epochs`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

import jax
import numpy as np
from ml_collections import ConfigDict

from convnets import models
from convnets.data import MNIST, Split, image_shape
from convnets.data.augment import make_augmentation
from convnets.data.device import DeviceSplit, to_device
from convnets.data.preprocessing import Preprocessor, fit_state, input_shape, make_preprocessor
from convnets.train.checks import ConfigError
from convnets.train.placement import Placement
from convnets.train.workdir import atomic_path

PREPROCESSOR_FILE = "preprocessor.npz"


def preprocess_name(config: ConfigDict) -> str:
  """``config.data.preprocess``, or the model's own when it is ``"auto"``."""
  name = config.data.preprocess
  return models.default_preprocess(config.model.name) if name == "auto" else name


def model_input_shape(config: ConfigDict) -> tuple[int, ...]:
  """One input's shape ``(H, W, C)`` as the config's preprocessing gives it
  from the images ``config.data.name`` declares (C = 3 for colour)."""
  images = image_shape(config.data.name, config.data.source)
  try:
    return input_shape(preprocess_name(config), images)
  except ValueError as e:
    raise ConfigError(f"config.data.preprocess={config.data.preprocess!r}: {e}; choose one "
                      f"that takes the images of config.data.name={config.data.name!r} "
                      f"(e.g. scale)") from None


def check_data(config: ConfigDict, data: MNIST) -> None:
  """The data set is the one the config names: its images have the shape the
  model was checked against, and its classes the model's outputs."""
  declared = image_shape(config.data.name, config.data.source)
  if data.image_shape != declared:
    raise ConfigError(f"config.data.name={config.data.name!r} declares images of shape "
                      f"{declared}, but the data given have {data.image_shape}")
  classes = getattr(models.build(config.model), "classes", len(data.class_names))
  if classes != len(data.class_names):
    raise ConfigError(f"config.data.name={config.data.name!r}: {len(data.class_names)} classes, "
                      f"but model {config.model.name!r} has {classes} outputs; choose a data set "
                      f"of {classes} classes")


def training_split(config: ConfigDict, data: MNIST) -> Split:
  """The examples ``config`` trains on (and fits its preprocessor to): the
  first ``config.data.train_subset`` training examples, or all of them if 0."""
  subset = config.data.train_subset
  if subset > len(data.train):
    raise ConfigError(f"config.data.train_subset={subset}: larger than the "
                      f"{len(data.train):,} training examples (0 = all)")
  return data.train.take(subset) if subset else data.train


@dataclasses.dataclass(frozen=True)
class Pipeline:
  """What the epoch runner and the evaluator read.

  Attributes:
    train, valid, test: the splits on the device (``valid``/``test`` padded to
      whole evaluation chunks).
    train_examples: the number of training examples.
    preprocess: ``(N, H, W[, C])`` uint8 -> ``(N, H', W', C)`` float32.
    preprocess_state: what the preprocessor learnt from the training split
      (empty for the fixed ones), saved with the run.
    augment: ``(key, (N, H, W[, C]) uint8) -> (N, H, W[, C]) uint8``.
  """
  train: DeviceSplit
  valid: DeviceSplit
  test: DeviceSplit
  train_examples: int
  preprocess: Preprocessor
  preprocess_state: dict[str, np.ndarray]
  augment: Callable[[jax.Array, jax.Array], jax.Array]


def build_pipeline(config: ConfigDict, data: MNIST, placement: Placement) -> Pipeline:
  """The splits uploaded (replicated over ``placement``), the preprocessor
  fitted to the training split only, the augmentation of ``config.augment``."""
  check_data(config, data)
  train = training_split(config, data)
  if config.batch_size > len(train):
    raise ConfigError(f"config.batch_size={config.batch_size}: larger than the "
                      f"{len(train)} training examples")
  name = preprocess_name(config)
  state = fit_state(name, train.images)
  upload = lambda split, multiple=1: placement.replicate(to_device(split, multiple))
  return Pipeline(train=upload(train), valid=upload(data.valid, config.eval_batch_size),
                  test=upload(data.test, config.eval_batch_size), train_examples=len(train),
                  preprocess=make_preprocessor(name, state), preprocess_state=state,
                  augment=make_augmentation(config.augment))


def save_preprocessor(workdir: str, state: dict[str, np.ndarray]) -> None:
  """Write the fitted preprocessor's arrays to ``workdir/preprocessor.npz``."""
  with atomic_path(os.path.join(workdir, PREPROCESSOR_FILE)) as path:
    with open(path, "wb") as f:
      np.savez(f, **state)


def load_preprocessor(workdir: str, config: ConfigDict) -> Preprocessor:
  """The preprocessor a finished run in ``workdir`` was trained with."""
  with np.load(os.path.join(workdir, PREPROCESSOR_FILE)) as saved:
    return make_preprocessor(preprocess_name(config), dict(saved))
