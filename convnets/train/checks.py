"""Checks of a config, before anything is computed or written.

Every check names the dotted field it rejects and what would work, so that a
bad value is one line on the command line (``error: config.optimizer.
learning_rate=0: must be > 0``) rather than a failure part-way through a run.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import flax.linen as nn
from ml_collections import ConfigDict

from convnets.data import SOURCES
from convnets.data.mnist import IDX_DATASETS, TFDS_PREFIX
from convnets.data.augment import AUGMENTATIONS
from convnets.data.preprocessing import names as preprocessor_names
from convnets.train.optim import OPTIMIZERS, SCHEDULES

LOOPS = ("auto", "python", "scan")


class ConfigError(ValueError):
  """A config value that cannot work; the message names the field."""


def _get(config: ConfigDict, field: str) -> Any:
  value = config
  for name in field.split("."):
    value = value[name]
  return value


def _is_int(value: Any) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def check_config(config: ConfigDict) -> None:
  """Raise ConfigError naming the first unusable field."""
  def need(field: str, ok: Any, why: str) -> None:
    if not ok(_get(config, field)):
      raise ConfigError(f"config.{field}={_get(config, field)!r}: {why}")

  one_of = lambda known: (lambda v: v in known, f"must be one of {', '.join(known)}")
  at_least = lambda low: (lambda v: _is_int(v) and v >= low, f"must be an integer >= {low}")
  need("epochs", *at_least(1))
  need("batch_size", *at_least(1))
  need("eval_batch_size", *at_least(1))
  need("loop", *one_of(LOOPS))
  need("num_devices", lambda v: _is_int(v) and v >= 0, "must be an integer >= 0 (0 = all)")
  need("early_stopping_patience", lambda v: _is_int(v) and v >= 0,
       "must be an integer >= 0 (0 = off)")
  need("data.name", lambda v: isinstance(v, str) and (
      v in IDX_DATASETS or (v.startswith(TFDS_PREFIX) and len(v) > len(TFDS_PREFIX))),
      f"must be one of {', '.join(IDX_DATASETS)}, or {TFDS_PREFIX}NAME for a "
      f"tensorflow-datasets image classification data set (e.g. {TFDS_PREFIX}cifar10)")
  need("data.source", *one_of(SOURCES))
  need("data.preprocess", *one_of(("auto",) + preprocessor_names()))
  need("data.train_subset", lambda v: _is_int(v) and v >= 0, "must be an integer >= 0 (0 = all)")
  need("augment.name", *one_of(AUGMENTATIONS))
  need("augment.shift_pixels", lambda v: _is_int(v) and v >= 0, "must be an integer >= 0")
  need("optimizer.name", *one_of(OPTIMIZERS))
  need("optimizer.schedule", *one_of(SCHEDULES))
  need("optimizer.learning_rate", lambda v: v > 0, "must be > 0")
  need("optimizer.warmup_epochs", lambda v: 0 <= v < config.epochs,
       "must be >= 0 and less than config.epochs")
  need("optimizer.weight_decay", lambda v: v >= 0, "must be >= 0")
  need("optimizer.momentum", lambda v: 0 <= v < 1, "must be in [0, 1)")
  need("checkpoint.every_minutes", lambda v: v > 0, "must be > 0")
  need("checkpoint.keep", *at_least(1))
  need("tensorboard", lambda v: isinstance(v, bool), "must be True or False")
  need("pictures", lambda v: isinstance(v, bool), "must be True or False")
  need("loss.l1", lambda v: v >= 0, "must be >= 0")
  need("loss.l2", lambda v: v >= 0, "must be >= 0")
  need("loss.label_smoothing", lambda v: 0 <= v < 1, "must be in [0, 1)")


def check_divisible(config: ConfigDict, devices: int) -> None:
  """Each batch is split evenly over ``devices``."""
  for field in ("batch_size", "eval_batch_size"):
    if config[field] % devices:
      raise ConfigError(f"config.{field}={config[field]}: must be divisible by the {devices} "
                        f"devices the batch is split over (or set config.num_devices)")


def check_model_input(model: nn.Module, config: ConfigDict, shape: tuple[int, ...],
                      preprocess: str) -> None:
  """The model takes inputs of ``shape`` ``(H, W, C)``; checked abstractly
  (``jax.eval_shape``: shapes only, nothing computed)."""
  try:
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1,) + shape))
  except ValueError as e:
    raise ConfigError(f"model {config.model.name!r} cannot take the "
                      f"{'x'.join(map(str, shape))} inputs of config.data.preprocess="
                      f"{preprocess!r}: {e}. Leave config.data.preprocess='auto' for the "
                      f"model's own input size") from None
