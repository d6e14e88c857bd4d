"""Optimisers and learning-rate schedules (Optax), chosen by name in the config,
and parameters held fixed (never updated) whatever the optimiser."""

from __future__ import annotations

from typing import Any, Sequence

import jax
import optax
from ml_collections import ConfigDict

# A parameter subtree by its module names, e.g. ("conv1", "conv").
ParamPath = tuple[str, ...]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
SCHEDULES = ("constant", "cosine", "step")


def learning_rate_schedule(section: ConfigDict, epochs: int, steps_per_epoch: int
                           ) -> optax.Schedule:
  """A config's ``optimizer`` section's ``schedule`` over ``epochs``, after
  ``warmup_epochs`` of linear warm-up from 0.

  * constant: ``lr``.
  * cosine: ``lr * (1 + cos(pi t / T)) / 2`` down to 0 at the last step.
  * step: ``lr`` divided by 10 at 50% and again at 75% of training.
  """
  peak = section.learning_rate
  total = epochs * steps_per_epoch
  warmup = int(section.warmup_epochs * steps_per_epoch)
  decay_steps = max(total - warmup, 1)
  if section.schedule == "constant":
    main = optax.constant_schedule(peak)
  elif section.schedule == "cosine":
    main = optax.cosine_decay_schedule(peak, decay_steps)
  elif section.schedule == "step":
    main = optax.piecewise_constant_schedule(
        peak, {int(decay_steps * 0.5): 0.1, int(decay_steps * 0.75): 0.1})
  else:
    raise ValueError(f"unknown schedule {section.schedule!r}; known: {', '.join(SCHEDULES)}")
  if warmup == 0:
    return main
  return optax.join_schedules([optax.linear_schedule(0.0, peak, warmup), main], [warmup])


def fixed_params(model: Any) -> tuple[ParamPath, ...]:
  """The parameter subtrees ``model`` keeps fixed: its ``fixed_params``
  attribute (e.g. :attr:`convnets.models.convnet.ConvNet.fixed_params`), none
  for a model without one."""
  return tuple(getattr(model, "fixed_params", ()))


def freeze(tx: optax.GradientTransformation, fixed: Sequence[ParamPath]
           ) -> optax.GradientTransformation:
  """``tx`` on every parameter except those under a path of ``fixed``, whose
  updates are zero (``optax.set_to_zero``), so they stay bit-for-bit as they
  were initialised. Masking the update, not the gradient, is what also stops
  decoupled weight decay (AdamW adds ``wd * w`` to the update whatever the
  gradient) and momentum carried from earlier steps."""
  if not fixed:
    return tx
  fixed = [tuple(path) for path in fixed]

  def labels(params):
    def label(path, _):
      names = tuple(getattr(key, "key", key) for key in path)
      return "fixed" if any(names[:len(p)] == p for p in fixed) else "trained"
    return jax.tree_util.tree_map_with_path(label, params)

  return optax.multi_transform({"trained": tx, "fixed": optax.set_to_zero()}, labels)


def make_optimizer(section: ConfigDict, epochs: int, steps_per_epoch: int, *,
                   fixed: Sequence[ParamPath] = ()) -> optax.GradientTransformation:
  """The update rule a config's ``optimizer`` section names, with its schedule,
  leaving the parameters under ``fixed`` paths unchanged (:func:`freeze`).

  ``weight_decay`` is decoupled weight decay for adam (AdamW) and an L2
  penalty's gradient ``wd * w`` added before the update for the SGD family.
  """
  return freeze(_update_rule(section, epochs, steps_per_epoch), fixed)


def _update_rule(section: ConfigDict, epochs: int, steps_per_epoch: int
                 ) -> optax.GradientTransformation:
  lr = learning_rate_schedule(section, epochs, steps_per_epoch)
  name, wd = section.name, section.weight_decay
  if name == "adam":
    return optax.adamw(lr, weight_decay=wd) if wd else optax.adam(lr)
  if name in ("sgd", "momentum", "nesterov"):
    momentum = None if name == "sgd" else section.momentum
    sgd = optax.sgd(lr, momentum=momentum, nesterov=name == "nesterov")
    return optax.chain(optax.add_decayed_weights(wd), sgd) if wd else sgd
  raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
