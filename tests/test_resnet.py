"""Residual and plain networks: weight counts, shapes, and the identity a
residual block becomes when its branch is zero."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from convnets import models
from convnets.models.resnet import Block


def n_params(model) -> int:
  variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
  return sum(x.size for x in jax.tree.leaves(variables["params"]))


def test_parameter_counts_by_hand():
  # depth 4, width 8, 2 stages, BN (scale + shift per map, no conv biases):
  # stem 3x3x1x8 + 16; stage 1 block: 2 x (3x3x8x8 + 16); stage 2 block:
  # 3x3x8x16 + 32, 3x3x16x16 + 32, projection 1x1x8x16 + 32; output 16x10 + 10.
  stem, block1 = 72 + 16, 2 * (576 + 16)
  block2 = (1152 + 32) + (2304 + 32) + (128 + 32)
  assert n_params(models.create("resnet", depth=4, width=8)) == stem + block1 + block2 + 170
  # The plain net has no projection; without BN every convolution has a bias instead.
  assert n_params(models.create("resnet", depth=4, width=8, residual=False)) == (
      stem + block1 + block2 - 160 + 170)
  assert n_params(models.create("resnet", depth=4, width=8, batch_norm=False)) == (
      (72 + 8) + 2 * (576 + 8) + (1152 + 16) + (2304 + 16) + (128 + 16) + 170)
  # Each further block of stage s adds two 3x3 convolutions of 8 * 2^s maps.
  deeper = n_params(models.create("resnet", depth=8, width=8))
  assert deeper - n_params(models.create("resnet", depth=4, width=8)) == block1 + (
      2 * (2304 + 32))


def test_depth_must_fill_the_stages_evenly():
  with pytest.raises(ValueError, match="depth must be a positive multiple of 2 \\* stages = 4"):
    models.create("resnet", depth=6)


def zero_branch(variables, block: str, batch_norm: bool):
  """``variables`` with ``block``'s residual branch made to output 0: its last
  BN's scale and shift zeroed, or, without BN, its last convolution's weights
  and bias."""
  def zero(path, leaf):
    names = [getattr(p, "key", None) for p in path]
    last = names[:3] == ["params", block, "branch2"]
    if last and names[-2] == ("bn" if batch_norm else "conv"):
      return jnp.zeros_like(leaf)
    return leaf
  return jax.tree_util.tree_map_with_path(zero, variables)


@pytest.mark.parametrize("batch_norm", [True, False])
def test_blocks_with_zero_branches_add_depth_without_changing_the_function(batch_norm):
  """He et al.'s argument: a deeper residual net can compute exactly what a
  shallower one does by making its extra blocks identities. Here the depth-6
  net gets the depth-2 net's variables and zeroed extra blocks, and gives the
  same logits; the plain net cannot (a zeroed plain block outputs f(0) = 0).
  One stage, so every block keeps its shape (projections: the next test)."""
  x = jax.random.uniform(jax.random.key(0), (3, 28, 28, 1))
  shallow = models.create("resnet", depth=2, stages=1, width=4, batch_norm=batch_norm)
  deep = models.create("resnet", depth=6, stages=1, width=4, batch_norm=batch_norm)
  small = shallow.init(jax.random.key(1), x)
  big = deep.init(jax.random.key(2), x)
  extra = ("stage1_block2", "stage1_block3")
  for collection, layers in big.items():
    for name in layers:
      if name not in extra:
        layers[name] = small[collection][name]
  for name in extra:
    big = zero_branch(big, name, batch_norm)
  logits = shallow.apply(small, x)
  assert logits.shape == (3, 10) and np.all(np.isfinite(logits))
  np.testing.assert_allclose(deep.apply(big, x), logits, rtol=1e-5, atol=1e-5)

  plain = models.create("resnet", depth=6, stages=1, width=4, batch_norm=batch_norm,
                        residual=False)
  assert not np.allclose(plain.apply(big, x), logits, atol=1e-3)


def test_a_block_with_a_zero_branch_passes_its_skip_path():
  x = jax.nn.relu(jax.random.normal(jax.random.key(0), (2, 7, 7, 4)))  # a ReLU's outputs
  same = Block(4)
  variables = zero_branch({"params": {"b": same.init(jax.random.key(1), x)["params"]}}, "b",
                          True)["params"]["b"]
  stats = same.init(jax.random.key(1), x)["batch_stats"]
  np.testing.assert_allclose(same.apply({"params": variables, "batch_stats": stats}, x), x,
                             atol=1e-6)
  # Where the shape changes, what passes is the projection: f(BN(conv1x1, stride 2)).
  down = Block(8, stride=2)
  full = down.init(jax.random.key(1), x)
  zeroed = zero_branch({"params": {"b": full["params"]}}, "b", True)["params"]["b"]
  proj = zeroed["projection"]
  conv = jax.lax.conv_general_dilated(x, proj["conv"]["kernel"], (2, 2), "SAME",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))
  expected = jax.nn.relu(proj["bn"]["scale"] * conv / np.sqrt(1 + 1e-5) + proj["bn"]["bias"])
  np.testing.assert_allclose(down.apply({"params": zeroed, "batch_stats": full["batch_stats"]}, x),
                             expected, rtol=1e-5, atol=1e-5)
