"""The fast recipe's network (convnets/configs/fast.py): the shapes and weights
its docstring describes, counted by hand, and the strided convolution it
relies on against a NumPy loop."""

from __future__ import annotations

import jax
import numpy as np

from convnets import models, ops
from convnets.configs import fast
from convnets.train.state import count_params


def test_the_fast_network_has_the_weights_its_docstring_describes():
  config = fast.get_config()
  model = models.build(config.model)
  # Shapes only (jax.eval_shape): counting needs no compiled initialisation.
  variables = jax.eval_shape(model.init, jax.random.key(0), np.zeros((1, 28, 28, 1), np.float32))
  c1, c2 = config.model.conv_features
  (hidden,) = config.model.hidden
  k = config.model.kernel_size
  # 28 -> (28 - 5) // 2 + 1 = 12 -> (12 - 5) // 2 + 1 = 4. No bias in a layer followed by
  # batch normalisation (its shift takes the bias's place), which has a scale and a shift
  # per map or unit.
  side = ((28 - k) // 2 + 1 - k) // 2 + 1
  assert side == 4
  expected = (k * k * 1 * c1 + 2 * c1 + k * k * c1 * c2 + 2 * c2
              + side * side * c2 * hidden + 2 * hidden + hidden * 10 + 10)
  assert count_params(variables["params"]) == expected
  logits = jax.eval_shape(model.apply, variables, np.zeros((3, 28, 28, 1), np.float32))
  assert logits.shape == (3, 10)


def test_a_stride_two_convolution_is_the_loop_over_every_second_window():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 12, 12, 3)).astype(np.float32)
  w = rng.normal(size=(5, 5, 3, 4)).astype(np.float32)
  expected = np.zeros((2, 4, 4, 4), np.float32)
  for i in range(4):
    for j in range(4):
      window = x[:, 2 * i:2 * i + 5, 2 * j:2 * j + 5, :]
      expected[:, i, j, :] = np.einsum("nhwc,hwco->no", window, w)
  got = ops.conv2d(x, w, stride=2, padding="VALID", impl="im2col")
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4, atol=1e-4)
