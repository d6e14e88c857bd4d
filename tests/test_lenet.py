"""LeNet-1, -4 and -5 (LeCun et al. 1998): architectures, parameter counts
computed by hand, C3's connection table and the RBF output layer."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from convnets import models, ops
from convnets.data import transforms
from convnets.models import lenet


def init(name: str, preprocess: str, shapes_only: bool = False, **kwargs):
  """Model ``name``, its variables (or only their shapes: fast) and its input
  shape ``(H, W, 1)``."""
  model = models.create(name, **kwargs)
  shape = jax.eval_shape(transforms.get_preprocessor(preprocess),
                         jax.ShapeDtypeStruct((1, 28, 28), jnp.uint8)).shape[1:]
  args = (jax.random.key(0), jnp.zeros((1,) + shape))
  variables = jax.eval_shape(model.init, *args) if shapes_only else jax.jit(model.init)(*args)
  return model, variables, shape


def normal(shape, seed: int = 0) -> np.ndarray:
  """Standard normal float32 test data (NumPy: no compilation, unlike jax.random)."""
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def count(tree) -> int:
  return sum(x.size for x in jax.tree.leaves(tree))


def test_lenet5_has_the_papers_60000_trainable_parameters():
  _, variables, shape = init("lenet5", "lecun_pad32", shapes_only=True)
  assert shape == (32, 32, 1)
  # Only parameters: the RBF codes are constants, not variables.
  assert set(variables) == {"params"}
  params = variables["params"]
  per_layer = {name: count(layer) for name, layer in params.items()}
  assert per_layer == {
      "C1": 6 * (5 * 5 + 1),                  # 156
      "S2": 6 * 2,                            # coefficient + bias per map
      "C3": 60 * 5 * 5 + 16,                  # 60 connected map pairs: 1,516
      "S4": 16 * 2,
      "C5": 120 * (16 * 5 * 5 + 1),           # 48,120
      "F6": 84 * (120 + 1),                   # 10,164
  }
  assert count(params) == 60_000


def test_lenet5_variants_counts():
  # Softmax head: a plain 84 -> 10 layer on top of the 60,000.
  assert count(init("lenet5", "lecun_pad32", True, head="softmax")[1]) == 60_000 + 84 * 10 + 10
  # Modern: C3 sees all 6 S2 maps, pooling has no parameters, softmax output.
  modern = 156 + 16 * (6 * 25 + 1) + 48_120 + 10_164 + 850
  assert count(init("lenet5_modern", "lecun_pad32", True)[1]) == modern
  assert count(init("lenet5", "lecun_pad32", True, connections="full", pooling="max",
                    head="softmax", activation="relu")[1]) == modern


@pytest.mark.parametrize("name,preprocess,expected", [
    # 28x28 -> C1 4@24x24 -> S2 4@12x12 -> C3 12@8x8 (all 4 maps) -> S4 12@4x4 -> 10
    ("lenet1", "lecun_down16_pad28", 4 * 26 + 4 * 2 + 12 * (4 * 25 + 1) + 12 * 2
     + 10 * (12 * 4 * 4 + 1)),
    # 32x32 -> C1 4@28x28 -> S2 4@14x14 -> C3 16@10x10 -> S4 16@5x5 -> 120 -> 10
    ("lenet4", "lecun_pad32", 4 * 26 + 4 * 2 + 16 * (4 * 25 + 1) + 16 * 2
     + 120 * (16 * 25 + 1) + 10 * (120 + 1)),
])
def test_lenet1_and_lenet4_shapes_and_counts(name, preprocess, expected):
  model, variables, shape = init(name, preprocess, True)
  assert count(variables) == expected
  assert expected == {"lenet1": 3_278, "lenet4": 51_090}[name]
  x = jax.ShapeDtypeStruct((3,) + shape, jnp.float32)
  logits = jax.eval_shape(model.apply, variables, x)
  assert logits.shape == (3, 10)


def test_feature_map_sizes_follow_the_paper():
  model, variables, shape = init("lenet5", "lecun_pad32", True)
  _, state = jax.eval_shape(lambda v, x: model.apply(v, x, capture_intermediates=True),
                            variables, jax.ShapeDtypeStruct((2,) + shape, jnp.float32))
  sizes = {k: v["__call__"][0].shape for k, v in state["intermediates"].items()
           if k != "__call__"}
  assert sizes == {"C1": (2, 28, 28, 6), "S2": (2, 14, 14, 6), "C3": (2, 10, 10, 16),
                   "S4": (2, 5, 5, 16), "C5": (2, 1, 1, 120), "F6": (2, 84)}


def test_c3_table_is_table_i():
  table = lenet.C3_TABLE
  assert len(table) == 16
  assert sum(len(row) for row in table) == 60
  assert table[0] == (0, 1, 2)
  assert table[15] == (0, 1, 2, 3, 4, 5)
  assert [len(row) for row in table] == [3] * 6 + [4] * 9 + [6]
  # Table I, read along its rows: the C3 maps that S2 map 0 (and 5) feed.
  feeds = lambda s2: [j for j, row in enumerate(table) if s2 in row]
  assert feeds(0) == [0, 4, 5, 6, 9, 10, 11, 12, 14, 15]
  assert feeds(5) == [3, 4, 5, 8, 9, 10, 11, 13, 14, 15]
  # Maps 0-5 and 6-11 see contiguous (cyclic) runs of S2 maps.
  for j in range(6):
    assert set(table[j]) == {j % 6, (j + 1) % 6, (j + 2) % 6}
    assert set(table[6 + j]) == {(j + k) % 6 for k in range(4)}


def test_table_conv_uses_only_connected_maps():
  conv = lenet.TableConv2D(lenet.C3_TABLE, impl="xla")
  x = jnp.asarray(normal((2, 14, 14, 6)))
  variables = jax.jit(conv.init)(jax.random.key(1), x)
  kernel = np.asarray(variables["params"]["kernel"])
  assert kernel.shape == (5, 5, 60)
  apply = jax.jit(conv.apply)
  changed = x.at[..., 3].add(1.0)     # S2 map 3 feeds C3 maps 1, 2, 3, ...
  diff = np.abs(apply(variables, changed) - apply(variables, x)).max(axis=(0, 1, 2))
  feeds_3 = np.array([3 in row for row in lenet.C3_TABLE])
  assert np.all(diff[~feeds_3] == 0)
  assert np.all(diff[feeds_3] > 0)
  # Every one of the 60 connection kernels gets a gradient.
  grad = jax.jit(jax.grad(lambda p: conv.apply({"params": p}, x).sum()))(variables["params"])
  assert np.all(np.abs(grad["kernel"]).sum(axis=(0, 1)) > 0)
  # The paper's initialisation, by each pair's output map's fan-in: map 0 has 3
  # inputs (fan-in 75; pairs 0-2), map 15 has 6 (fan-in 150; pairs 54-59).
  assert np.abs(kernel[..., :3]).max() <= 2.4 / 75
  assert np.abs(kernel[..., :3]).max() > 2.4 / 150
  assert np.abs(kernel[..., 54:]).max() <= 2.4 / 150


def test_weight_inits_follow_fan_in():
  paper = np.asarray(lenet.kernel_init("paper")(jax.random.key(0), (5, 5, 16, 120)))
  bound = 2.4 / (5 * 5 * 16)
  assert np.abs(paper).max() <= bound and np.abs(paper).max() > 0.95 * bound
  normal = np.asarray(lenet.kernel_init("lecun_normal")(jax.random.key(0), (400, 120)))
  assert normal.std() == pytest.approx(1 / 20, rel=0.05)


def test_rbf_codes_are_distinct_plus_minus_one_7x12_bitmaps():
  codes = lenet.RBF_CODES
  assert codes.shape == (10, 84)
  assert set(np.unique(codes)) == {-1.0, 1.0}
  for rows in lenet._BITMAPS.values():
    assert len(rows) == 12 and all(len(row) == 7 for row in rows)
  hamming = (codes[:, None, :] != codes[None, :, :]).sum(axis=-1)
  assert hamming[~np.eye(10, dtype=bool)].min() >= 8


def test_rbf_logits_are_negative_squared_distances_to_the_codes():
  x = normal((5, 84))
  expected = -np.array([[np.sum((x[n] - lenet.RBF_CODES[i]) ** 2) for i in range(10)]
                        for n in range(5)])
  np.testing.assert_allclose(lenet.euclidean_rbf(jnp.asarray(x), lenet.RBF_CODES), expected,
                             rtol=1e-5)
  # In the model, the logits are those of F6's squashed state. (XLA's
  # convolution compiles ten times faster than im2col, CPU's default.)
  model, shapes, shape = init("lenet5", "lecun_pad32", True, conv_impl="xla")
  variables = jax.tree.map(lambda leaf: 0.2 * normal(leaf.shape), shapes)
  images = normal((4,) + shape)
  logits, state = jax.jit(lambda v, x: model.apply(v, x, capture_intermediates=True))(
      variables, images)
  f6 = np.asarray(ops.lecun_tanh(state["intermediates"]["F6"]["__call__"][0]))
  expected = -((f6[:, None, :] - lenet.RBF_CODES[None]) ** 2).sum(axis=-1)
  np.testing.assert_allclose(logits, expected, rtol=1e-5)
  # A state equal to code 7 is classified as 7, at distance 0.
  at_code = lenet.euclidean_rbf(jnp.asarray(lenet.RBF_CODES[7:8]), lenet.RBF_CODES)
  assert int(jnp.argmax(at_code)) == 7 and float(at_code[0, 7]) == 0.0


def test_subsample_is_a_scaled_2x2_sum_then_squashing():
  x = normal((2, 4, 6, 3))
  layer = lenet.Subsample("lecun_tanh")
  params = {"coefficient": jnp.array([0.5, -1.0, 2.0]), "bias": jnp.array([0.1, 0.0, -0.3])}
  blocks = x.reshape(2, 2, 2, 3, 2, 3).sum(axis=(2, 4))
  expected = ops.lecun_tanh(blocks * params["coefficient"] + params["bias"])
  np.testing.assert_allclose(jax.jit(layer.apply)({"params": params}, x), expected, rtol=1e-5,
                             atol=1e-6)
  assert jax.tree.map(jnp.shape, jax.eval_shape(layer.init, jax.random.key(0), x)["params"]) == {
      "coefficient": (3,), "bias": (3,)}


@pytest.mark.parametrize("kwargs", [{"head": "svm"}, {"connections": "some"},
                                    {"pooling": "median"}, {"weight_init": "zeros"},
                                    {"activation": "swish"}, {"dropout": 0.5}])
def test_bad_hyperparameters_are_errors(kwargs):
  with pytest.raises(ValueError):
    models.create("lenet5", **kwargs)


def test_registered_with_their_hyperparameters():
  assert {"lenet1", "lenet4", "lenet5", "lenet5_modern"} <= set(models.names())
  assert models.hyperparameters("lenet5")["head"] == "rbf"
  assert models.hyperparameters("lenet5_modern")["activation"] == "relu"
  assert isinstance(models.create("lenet5"), nn.Module)
