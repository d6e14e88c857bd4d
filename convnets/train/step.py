"""Pure training and evaluation steps.

``train_step(state, batch) -> (state, metrics)`` is the whole of learning:
forward pass, softmax cross-entropy (plus any L1/L2 weight penalty,
:mod:`convnets.ops.regularisers`), backpropagation (``jax.grad``), optimiser
update. ``metrics`` are *sums* over the batch (``loss``, ``correct``,
``count``), so that adding them over steps gives exact epoch averages; the
reported loss is the cross-entropy alone, comparable across penalties.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from convnets import ops
from convnets.ops.regularisers import weight_penalty
from convnets.train.state import TrainState

Batch = dict[str, jax.Array]     # images (B, H, W, C) float32, labels (B,) int32
Metrics = dict[str, jax.Array]   # loss, correct, count: sums over examples


def init_state(model: nn.Module, tx: optax.GradientTransformation, key: jax.Array,
               input_shape: tuple[int, ...]) -> TrainState:
  """Initialise the model's variables from ``key`` for inputs ``(1, *input_shape)``."""
  init_key, step_key = jax.random.split(key)
  variables = model.init(init_key, jnp.zeros((1,) + tuple(input_shape), jnp.float32))
  params = variables["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=variables.get("batch_stats", {}),
                    opt_state=tx.init(params), key=step_key)


def make_train_step(model: nn.Module, tx: optax.GradientTransformation, l1: float = 0.0,
                    l2: float = 0.0, label_smoothing: float = 0.0
                    ) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
  """The pure step ``(state, batch) -> (state, metrics)`` (not yet jitted),
  minimising ``mean cross-entropy + l1 * sum |w| + l2 * 1/2 sum w^2`` over
  the weights ``w`` (:func:`convnets.ops.regularisers.weight_penalty`), the
  cross-entropy taken against labels smoothed by ``label_smoothing``
  (:func:`convnets.ops.softmax_cross_entropy`). The reported ``loss`` is the
  plain cross-entropy with the one-hot labels either way."""

  def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
    rngs = {"dropout": jax.random.fold_in(state.key, state.step)}

    def loss_fn(params):
      variables = {"params": params}
      if state.batch_stats:
        variables["batch_stats"] = state.batch_stats
        logits, updates = model.apply(variables, batch["images"], train=True, rngs=rngs,
                                      mutable=["batch_stats"])
        batch_stats = updates["batch_stats"]
      else:
        logits = model.apply(variables, batch["images"], train=True, rngs=rngs)
        batch_stats = state.batch_stats
      losses = ops.softmax_cross_entropy(logits, batch["labels"])
      objective = (ops.softmax_cross_entropy(logits, batch["labels"], label_smoothing)
                   if label_smoothing else losses)
      return (objective.mean() + weight_penalty(params, l1, l2),
              (losses, logits, batch_stats))

    grads, (losses, logits, batch_stats) = jax.grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                              opt_state=opt_state)
    metrics = {"loss": losses.sum(), "correct": ops.accuracy(logits, batch["labels"]).sum(),
               "count": jnp.asarray(losses.shape[0], jnp.float32)}
    return new_state, metrics

  return train_step


def make_eval_step(model: nn.Module
                   ) -> Callable[[dict[str, Any], Batch], tuple[Metrics, jax.Array]]:
  """``(variables, batch) -> (metrics, predictions)``: the metrics summed over
  examples with ``batch["weights"]`` (0 for padding), and each example's
  predicted class, ``(B,)`` int32."""

  def eval_step(variables: dict[str, Any], batch: Batch) -> tuple[Metrics, jax.Array]:
    logits = model.apply(variables, batch["images"], train=False)
    w = batch["weights"]
    metrics = {"loss": (ops.softmax_cross_entropy(logits, batch["labels"]) * w).sum(),
               "correct": (ops.accuracy(logits, batch["labels"]) * w).sum(),
               "count": w.sum()}
    return metrics, logits.argmax(-1).astype(jnp.int32)

  return eval_step
