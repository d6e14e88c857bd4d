"""LeNet-1, LeNet-4 and LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998,
"Gradient-Based Learning Applied to Document Recognition").

All three are ``C1 -> S2 -> C3 -> S4 [-> C5] [-> F6] -> output``: 5x5
convolutions (C) alternating with 2x2 subsampling (S), every unit squashed by
``1.7159 tanh(2a / 3)`` (:func:`convnets.ops.lecun_tanh`, Appendix A).

* **LeNet-5** (Section II.B, Fig. 2), on the 28x28 digit padded to 32x32
  (preprocess ``lecun_pad32``)::

    input 1@32x32 -> C1 6@28x28 -> S2 6@14x14 -> C3 16@10x10 -> S4 16@5x5
      -> C5 120@1x1 -> F6 84 -> 10 Euclidean RBF units

  S2 and S4 are *trainable* subsampling: each unit adds its 2x2 inputs,
  multiplies by a trainable coefficient, adds a trainable bias (one of each
  per map) and squashes. C3 connects each map to a subset of S2's maps
  (Table I, ``C3_TABLE``): 60 of the 96 map pairs. The output units compute
  ``y_i = sum_j (x_j - w_ij)^2``, the squared distance of F6's state to a
  fixed +-1 code ``w_i``, a stylised 7x12 bitmap of digit ``i`` (Fig. 3,
  ``RBF_CODES``). Trainable parameters: C1 156, S2 12, C3 1,516, S4 32,
  C5 48,120, F6 10,164: **60,000**; the codes are constants.

  Logits are the *negative* distances ``-y_i``, so the closest code wins, and
  the training loop's softmax cross-entropy on them is the paper's
  discriminative MAP criterion (Section II.C) without its constant
  "rubbish class" term ``e^-j``: it pulls F6 towards the correct code and
  pushes it away from the others, so fixed codes cannot collapse.

* **LeNet-4** (Section III.C), on 32x32 (``lecun_pad32``): C1 4@28x28, S2
  4@14x14, C3 16@10x10 fully connected to S2, S4 16@5x5, C5 120 (a 5x5
  convolution of the 5x5 S4 maps: a fully connected layer), 10 outputs:
  104 + 8 + 1,616 + 32 + 48,120 + 1,210 = **51,090** parameters. The paper
  says "about 17,000", with eight S2 maps "connected in pairs" to C1's four,
  but gives neither its S2 nor its C3 connection pattern; we keep the plain
  four S2 maps and full connection.

* **LeNet-1** (Section III.C; LeCun et al. 1990), on the digit down-sampled
  to 16x16 and centred in a 28x28 field (``lecun_down16_pad28``), as the
  paper describes: C1 4@24x24, S2 4@12x12, C3 12@8x8, S4 12@4x4, 10
  outputs: 104 + 8 + 1,212 + 24 + 1,930 = **3,278** parameters. The paper
  says "about 2,600"; the 2,578 of LeCun et al. 1990 fits this network with
  trainable subsampling and a C3 that uses 20 of the 48 S2-C3 map pairs
  (``2,578 - 3,278 = -28 * 25``), a table neither paper prints, so we
  connect all pairs. (On a bare 16x16 input this network would shrink to a
  1x1 S4.)

We assume LeNet-1 and LeNet-4 subsample as LeNet-5 does (``pooling="avg"``
gives the plain average), and end in a linear layer read by softmax, as
``head="softmax"`` does for LeNet-5.

Modern alternatives are hyperparameters: ``activation`` (e.g. ``"relu"``),
``pooling`` (``"max"`` or ``"avg"``: parameter-free pooling, no squashing
after it), ``connections="full"`` (C3 sees all of S2), ``head="softmax"``,
and ``weight_init="lecun_normal"`` (weights ``N(0, 1 / fan_in)``) instead of the
paper's uniform ``[-2.4 / fan_in, 2.4 / fan_in]`` (Appendix A). The modern
LeNet-5 is also registered on its own, as ``lenet5_modern``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from convnets import ops
from convnets.layers import Conv2D, Dense
from convnets.models.registry import register

# LeCun et al. 1998, Table I: the S2 maps each C3 map takes input from. Maps
# 0-5 see three contiguous S2 maps, 6-11 four contiguous, 12-14 four
# discontinuous, 15 all six: 6*3 + 6*4 + 3*4 + 6 = 60 connections.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

# The output RBF units' codes: stylised 7x12 digits, "#" = +1 and "." = -1
# (LeCun et al. 1998, Section II.B and Fig. 3: similar-looking characters get
# similar codes, so the output is a distance in a meaningful space).
_BITMAPS = {
    0: (".......", "..###..", ".#...#.", "#.....#", "#.....#", "#.....#",
        "#.....#", "#.....#", "#.....#", ".#...#.", "..###..", "......."),
    1: (".......", "...#...", "..##...", ".#.#...", "...#...", "...#...",
        "...#...", "...#...", "...#...", "...#...", ".#####.", "......."),
    2: (".......", "..###..", ".#...#.", "#.....#", "......#", ".....#.",
        "....#..", "...#...", "..#....", ".#.....", "#######", "......."),
    3: (".......", ".####..", "#....#.", "......#", ".....#.", "..###..",
        ".....#.", "......#", "......#", "#....#.", ".####..", "......."),
    4: (".......", ".....#.", "....##.", "...#.#.", "..#..#.", ".#...#.",
        "#....#.", "#######", ".....#.", ".....#.", ".....#.", "......."),
    5: (".......", "#######", "#......", "#......", "#####..", ".....#.",
        "......#", "......#", "......#", "#....#.", ".####..", "......."),
    6: (".......", "...##..", "..#....", ".#.....", "#......", "#.###..",
        "##...#.", "#.....#", "#.....#", ".#...#.", "..###..", "......."),
    7: (".......", "#######", "......#", ".....#.", ".....#.", "....#..",
        "....#..", "...#...", "...#...", "..#....", "..#....", "......."),
    8: (".......", "..###..", ".#...#.", "#.....#", ".#...#.", "..###..",
        ".#...#.", "#.....#", "#.....#", ".#...#.", "..###..", "......."),
    9: (".......", "..###..", ".#...#.", "#.....#", "#.....#", ".#...##",
        "..###.#", "......#", ".....#.", "....#..", ".##....", "......."),
}
RBF_CODES = np.array([[1.0 if c == "#" else -1.0 for c in "".join(_BITMAPS[d])]
                      for d in range(10)], np.float32)  # (10, 84): row-major 12 x 7


def paper_uniform(key: jax.Array, shape: Sequence[int], fan_in: jax.Array | float) -> jax.Array:
  """LeCun et al. 1998, Appendix A: weights uniform in ``[-2.4 / F, 2.4 / F]``
  with ``F`` the fan-in of the unit they feed (keeps the total inputs where
  the squashing function is not saturated)."""
  return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0) * (2.4 / fan_in)


def fan_in_normal(key: jax.Array, shape: Sequence[int], fan_in: jax.Array | float) -> jax.Array:
  """Weights ``N(0, 1 / F)`` (LeCun's "efficient backprop" variance, the modern default)."""
  return jax.random.normal(key, shape) / jnp.sqrt(fan_in)


INITS: dict[str, Callable[..., jax.Array]] = {"paper": paper_uniform,
                                              "lecun_normal": fan_in_normal}
POOLINGS = ("trainable", "max", "avg")
CONNECTIONS = ("table", "full")
HEADS = ("rbf", "softmax")


def kernel_init(name: str) -> Callable[..., jax.Array]:
  """A Flax initialiser of ``INITS[name]`` for a kernel whose last axis is
  its output units (HWIO or ``(D_in, D_out)``): fan-in = the other axes."""
  def initialise(key, shape, dtype=jnp.float32):
    return INITS[name](key, shape, math.prod(shape[:-1])).astype(dtype)
  return initialise


def euclidean_rbf(x: jax.Array, codes: jax.Array) -> jax.Array:
  """Negative squared distances to the codes: ``(N, D), (K, D) -> (N, K)``,
  ``out[n, i] = -sum_j (x[n, j] - codes[i, j])^2`` (Section II.B, negated)."""
  return -((x[:, None, :] - codes[None, :, :]) ** 2).sum(axis=-1)


class Subsample(nn.Module):
  """Trainable subsampling (S2, S4): ``(N, H, W, C) -> (N, H/2, W/2, C)``,
  ``f(coefficient * sum of the 2x2 region + bias)`` with one coefficient and
  one bias per map. The coefficient starts at 1/4, so the layer starts as an
  average pooling (the paper does not say how it initialised these two)."""
  activation: str = "lecun_tanh"
  window: int = 2

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    maps = x.shape[-1]
    coefficient = self.param("coefficient", nn.initializers.constant(1 / self.window ** 2),
                             (maps,))
    bias = self.param("bias", nn.initializers.zeros, (maps,))
    summed = ops.pool2d(x, kind="sum", window=self.window)
    return ops.get_activation(self.activation)(coefficient * summed + bias)


class TableConv2D(nn.Module):
  """A convolution in which output map ``j`` sees only input maps ``table[j]``
  (LeNet-5's C3, Table I): ``(N, H, W, C_in) -> (N, H - k + 1, W - k + 1, len(table))``.

  Only connected pairs have weights: ``kernel`` is ``(k, k, P)``, one k x k
  kernel per pair of the ``P`` pairs in the table, scattered into a full
  HWIO kernel whose other entries are constant zeros, then one ordinary
  convolution (:func:`convnets.ops.conv2d`). Parameters: ``P k^2 + len(table)``.
  """
  table: tuple[tuple[int, ...], ...]
  kernel_size: int = 5
  weight_init: str = "paper"
  impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k, outputs = self.kernel_size, len(self.table)
    inputs = np.array([i for row in self.table for i in row])
    targets = np.array([j for j, row in enumerate(self.table) for _ in row])
    # Each pair's fan-in is that of the output map it feeds.
    fan_in = np.array([k * k * len(self.table[j]) for j in targets], np.float32)
    kernel = self.param("kernel", lambda key, shape: INITS[self.weight_init](key, shape, fan_in),
                        (k, k, len(inputs)))
    bias = self.param("bias", nn.initializers.zeros, (outputs,))
    full = jnp.zeros((k, k, x.shape[-1], outputs), kernel.dtype)
    full = full.at[:, :, inputs, targets].set(kernel)
    return ops.conv2d(x, full, bias, impl=self.impl)


class LeNet(nn.Module):
  """``(N, H, W, 1) -> (N, classes)`` logits: C1, S2, C3, S4, optional C5
  (a 5x5 convolution) and F6 (fully connected), then the head.

  ``c3_table`` None connects C3 to every S2 map; ``head="rbf"`` needs
  ``f6_units == 84`` (the 7x12 codes).
  """
  maps: tuple[int, int] = (6, 16)
  c3_table: tuple[tuple[int, ...], ...] | None = C3_TABLE
  c5_maps: int | None = 120
  f6_units: int | None = 84
  head: str = "rbf"
  activation: str = "lecun_tanh"
  pooling: str = "trainable"
  weight_init: str = "paper"
  conv_impl: str = "auto"
  classes: int = 10

  def subsample(self, x: jax.Array, name: str) -> jax.Array:
    if self.pooling == "trainable":
      return Subsample(activation=self.activation, name=name)(x)
    return ops.pool2d(x, kind=self.pooling, window=2)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    act = ops.get_activation(self.activation)
    conv = lambda maps, name: Conv2D(features=maps, kernel_size=5, impl=self.conv_impl,
                                     kernel_init=kernel_init(self.weight_init), name=name)
    x = self.subsample(act(conv(self.maps[0], "C1")(x)), "S2")
    c3 = (conv(self.maps[1], "C3") if self.c3_table is None else
          TableConv2D(table=self.c3_table, kernel_size=5, weight_init=self.weight_init,
                      impl=self.conv_impl, name="C3"))
    x = self.subsample(act(c3(x)), "S4")
    if self.c5_maps is not None:
      x = act(conv(self.c5_maps, "C5")(x))
    x = x.reshape(x.shape[0], -1)
    if self.f6_units is not None:
      x = act(Dense(self.f6_units, kernel_init=kernel_init(self.weight_init), name="F6")(x))
    if self.head == "rbf":
      return euclidean_rbf(x, jnp.asarray(RBF_CODES))
    return Dense(self.classes, kernel_init=kernel_init(self.weight_init), name="output")(x)


def _check(activation: str, pooling: str, weight_init: str, conv_impl: str) -> None:
  ops.get_activation(activation)
  for name, value, known in [("pooling", pooling, POOLINGS),
                             ("weight_init", weight_init, tuple(INITS)),
                             ("conv_impl", conv_impl, ops.IMPLS)]:
    if value not in known:
      raise ValueError(f"unknown {name} {value!r}; known: {', '.join(known)}")


@register("lenet1", "LeNet-1 (LeCun et al. 1998): 16x16 digit in a 28x28 field, 4@5x5, "
          "subsample, 12@5x5, subsample, 10 outputs (3,278 parameters)",
          preprocess="lecun_down16_pad28")
def lenet1(activation: str = "lecun_tanh", pooling: str = "trainable", weight_init: str = "paper",
           conv_impl: str = "auto") -> LeNet:
  _check(activation, pooling, weight_init, conv_impl)
  return LeNet(maps=(4, 12), c3_table=None, c5_maps=None, f6_units=None, head="softmax",
               activation=activation, pooling=pooling, weight_init=weight_init,
               conv_impl=conv_impl)


@register("lenet4", "LeNet-4 (LeCun et al. 1998): 32x32 input, 4@5x5, subsample, 16@5x5, "
          "subsample, 120 units, 10 outputs (51,090 parameters)", preprocess="lecun_pad32")
def lenet4(activation: str = "lecun_tanh", pooling: str = "trainable", weight_init: str = "paper",
           conv_impl: str = "auto") -> LeNet:
  _check(activation, pooling, weight_init, conv_impl)
  return LeNet(maps=(4, 16), c3_table=None, c5_maps=120, f6_units=None, head="softmax",
               activation=activation, pooling=pooling, weight_init=weight_init,
               conv_impl=conv_impl)


def _lenet5_factory(activation: str, pooling: str, connections: str, head: str,
                    weight_init: str):
  def factory(activation: str = activation, pooling: str = pooling,
              connections: str = connections, head: str = head, weight_init: str = weight_init,
              conv_impl: str = "auto") -> LeNet:
    _check(activation, pooling, weight_init, conv_impl)
    if connections not in CONNECTIONS:
      raise ValueError(f"unknown connections {connections!r}; known: {', '.join(CONNECTIONS)}")
    if head not in HEADS:
      raise ValueError(f"unknown head {head!r}; known: {', '.join(HEADS)}")
    return LeNet(maps=(6, 16), c3_table=C3_TABLE if connections == "table" else None,
                 c5_maps=120, f6_units=84, head=head, activation=activation, pooling=pooling,
                 weight_init=weight_init, conv_impl=conv_impl)
  return factory


register("lenet5", "LeNet-5 as in LeCun et al. 1998: 32x32 input, C1 6@5x5, trainable S2, "
         "C3 16@5x5 (Table I), S4, C5 120, F6 84, Euclidean RBF outputs, scaled tanh "
         "(60,000 parameters)", preprocess="lecun_pad32")(
    _lenet5_factory("lecun_tanh", "trainable", "table", "rbf", "paper"))
register("lenet5_modern", "LeNet-5's layer sizes with modern choices: ReLU, 2x2 max-pooling, "
         "C3 fully connected, softmax output, N(0, 1/fan_in) weights (61,706 parameters)",
         preprocess="scale_pad32")(
    _lenet5_factory("relu", "max", "full", "softmax", "lecun_normal"))
