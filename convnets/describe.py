"""A model's weights and connections, layer by layer (MLP Lecture 7).

The lecture counts a convolutional layer two ways. Its **weights** are its
parameters: one ``kh x kw x in_maps`` kernel and one bias per feature map,
shared by all the map's units (a 5x5 map on a 28x28 input: 25 weights + 1
bias). Its **connections** are the multiply-adds of a forward pass, one per
input of every unit (24 x 24 x 5 x 5 = 14,400 for that map; 40 maps: 1,000
weights + 40 biases but 576,000 connections + 23,040 bias connections). In a
fully connected layer the two coincide (784 x 100 + 100 = 78,500).

The table is read off the model itself, not written down: the registered model
is initialised abstractly (``jax.eval_shape``, no arrays computed) while
``flax.linen.intercept_methods`` records every layer's call and output shape,
so it stays true for any registered model and any settings.

Per layer (a module that calls no other module):

* with a ``kernel``: ``connections = positions * kernel.size``, where
  ``positions`` is the number of output units per map (``out_h * out_w`` for
  a convolution: ``out_h * out_w * out_maps * kh * kw * in_maps`` in all;
  1 for a dense layer: ``in * out``); ``bias connections`` = output units.
  A :class:`~convnets.layers.ConvPool` that adds the bias after max-pooling
  computes the same function, so its bias is counted per convolution unit,
  as the lecture counts it;
* pooling (a layer with a ``window``: :class:`~convnets.layers.Pool2D`,
  LeNet's trainable subsampling): each output unit connects once to each input
  of its region, ``out units * window area`` (overlapping regions count a
  shared input once per region), plus a bias connection per unit if the layer
  has biases. Plain pooling has no weights (a learnable Lp exponent is one);
* anything else: its parameters, and no connections counted.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from convnets import models, ops
from convnets.data import preprocessing
from convnets.ops.windows import as_pair

COLUMNS = ("layer", "type", "output", "weights", "biases", "connections",
           "bias connections")
_NUMERIC = COLUMNS[3:]


def default_input_shape(model_name: str) -> tuple[int, ...]:
  """The input ``(H, W, C)`` the model is registered to take."""
  return preprocessing.input_shape(models.default_preprocess(model_name))


def layer_table(model_name: str, model_kwargs: Mapping[str, Any] | None = None,
                input_shape: Sequence[int] | None = None) -> list[dict[str, Any]]:
  """One row per layer, in forward order, after an ``input`` row.

  Args:
    model_name: a registered model (:func:`convnets.models.names`).
    model_kwargs: its settings, as for :func:`convnets.models.create` (those
      not given keep the model's defaults).
    input_shape: one example, ``(H, W, C)``; None: the model's own
      (:func:`default_input_shape`).

  Returns:
    Dicts with keys ``layer`` (the module path, e.g. ``conv1/conv``),
    ``type`` (the module class), ``output_shape`` (one example's, e.g.
    ``(24, 24, 20)``), and the integer counts ``weights``, ``biases``,
    ``connections`` and ``bias_connections``.
  """
  model = models.create(model_name, **dict(model_kwargs or {}))
  input_shape = tuple(input_shape or default_input_shape(model_name))
  # (path, type, one example's output shape, pooling window or None), in call order.
  calls: list[tuple[tuple[str, ...], str, tuple[int, ...], Any]] = []

  def record(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    if context.method_name != "__call__":
      return out
    module, pool = context.module, kwargs.get("max_pool")
    # ConvPool's fused paths call its convolution for (maps, bias), or for
    # (max-pooled maps, bias): the lecture's table still has two layers there.
    maps = out[0] if isinstance(out, tuple) else out
    if pool is not None:
      kernel = (*as_pair(module.kernel_size, "kernel_size"), args[0].shape[-1], module.features)
      full = jax.eval_shape(lambda x: ops.conv2d(x, jnp.zeros(kernel), padding=module.padding),
                            args[0])
      calls.append((module.path, type(module).__name__, tuple(full.shape[1:]), None))
      calls.append((module.path[:-1] + ("pool",), "Pool2D", tuple(maps.shape[1:]), pool))
    else:
      calls.append((module.path, type(module).__name__, tuple(maps.shape[1:]),
                    getattr(module, "window", None)))
    return out

  def init(key: jax.Array) -> Any:
    with nn.intercept_methods(record):
      return model.init(key, jnp.zeros((1, *input_shape), jnp.float32))

  params = jax.eval_shape(init, jax.random.key(0)).get("params", {})
  paths = [path for path, *_ in calls]
  rows = [_row("input", "", tuple(input_shape), 0, 0, 0, 0)]
  for path, kind, shape, window in calls:
    if any(other[:len(path)] == path and other != path for other in paths):
      continue  # a container: its layers have rows of their own
    own = params
    for name in path:
      own = own.get(name, {})
    own = {name: leaf for name, leaf in own.items() if not isinstance(leaf, Mapping)}
    biases = own["bias"].size if "bias" in own else 0
    weights = sum(leaf.size for leaf in own.values()) - biases
    units = math.prod(shape)
    if "kernel" in own:
      connections = units // shape[-1] * own["kernel"].size
    elif window is not None:
      connections = units * math.prod(as_pair(window, "window"))
    else:
      connections = 0
    bias_connections = units if biases and connections else 0
    rows.append(_row("/".join(path), kind, shape, weights, biases, connections,
                     bias_connections))
  return rows


def _row(layer: str, kind: str, shape: tuple[int, ...], weights: int, biases: int,
         connections: int, bias_connections: int) -> dict[str, Any]:
  return {"layer": layer, "type": kind, "output_shape": shape, "weights": weights,
          "biases": biases, "connections": connections, "bias_connections": bias_connections}


def count_connections(model_name: str, model_kwargs: Mapping[str, Any] | None = None,
                      input_shape: Sequence[int] | None = None) -> int:
  """Multiply-adds per example of the whole model (bias additions excluded)."""
  return sum(row["connections"] for row in layer_table(model_name, model_kwargs, input_shape))


def describe(model_name: str, model_kwargs: Mapping[str, Any] | None = None,
             input_shape: Sequence[int] | None = None) -> str:
  """The model's description, settings and layer table, as aligned Markdown.

  The totals row's weights + biases is the parameter count (289,630 for the
  lecture's simple ConvNet).
  """
  input_shape = tuple(input_shape or default_input_shape(model_name))
  rows = layer_table(model_name, model_kwargs, input_shape)
  settings = {**models.hyperparameters(model_name), **dict(model_kwargs or {})}
  totals = {key: sum(row[key] for row in rows)
            for key in ("weights", "biases", "connections", "bias_connections")}
  cells = [[row["layer"], row["type"], "x".join(map(str, row["output_shape"])),
            *(f"{row[key]:,}" for key in totals)] for row in rows]
  cells.append(["total", "", "", *(f"{value:,}" for value in totals.values())])
  widths = [max(len(col), *(len(line[i]) for line in cells)) for i, col in enumerate(COLUMNS)]

  def line(values: Sequence[str]) -> str:
    return "| " + " | ".join(v.rjust(w) if col in _NUMERIC else v.ljust(w)
                             for v, w, col in zip(values, widths, COLUMNS)) + " |"

  rule = "|" + "|".join(("-" * (w + 1) + ":") if col in _NUMERIC else "-" * (w + 2)
                        for w, col in zip(widths, COLUMNS)) + "|"
  return "\n".join([
      f"{model_name}: {models.describe(model_name)}",
      "settings: " + ", ".join(f"{k}={v!r}" for k, v in settings.items()),
      f"input: {'x'.join(map(str, input_shape))}",
      "",
      line(COLUMNS), rule, *map(line, cells),
      "",
      f"{totals['weights'] + totals['biases']:,} parameters (weights + biases); "
      f"{totals['connections']:,} connections + {totals['bias_connections']:,} "
      "bias connections per example.",
  ])
