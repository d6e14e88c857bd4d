"""The model registry: names, settings, shapes and the lecture's weight counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from convnets import models
from convnets.data.preprocessing import input_shape


def n_params(model, input_shape=(28, 28, 1)) -> int:
  variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1,) + input_shape))
  return sum(x.size for x in jax.tree.leaves(variables["params"]))


def test_lecture_convnet_has_289630_weights():
  # 20 * (5*5 + 1) + 20*12*12 * 100 + 100 + 100*10 + 10 (Lecture 7, "ConvNet").
  assert n_params(models.create("convnet")) == 20 * 26 + 2880 * 100 + 100 + 1000 + 10 == 289_630


@pytest.mark.parametrize("name, hidden", [("mlp_300", (300,)), ("mlp_1000", (1000,)),
                                          ("mlp_300_100", (300, 100)),
                                          ("mlp_500_150", (500, 150))])
def test_mlp_weight_counts(name, hidden):
  sizes = (784,) + hidden + (10,)
  expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
  assert n_params(models.create(name)) == expected


@pytest.mark.parametrize("name", ["convnet", "mlp_300", "mlp_500_150"])
def test_models_map_images_to_ten_logits(name):
  model = models.create(name)
  x = jnp.ones((3, 28, 28, 1))
  variables = model.init(jax.random.key(0), x)
  assert model.apply(variables, x).shape == (3, 10)


def test_unknown_model_lists_close_and_known_ones():
  with pytest.raises(ValueError, match="unknown model 'lenet9'; did you mean lenet5.*known "
                     "models: convnet, mlp_300"):
    models.create("lenet9")


def test_unknown_setting_is_named_with_close_matches():
  with pytest.raises(ValueError, match="model 'mlp_300' has no setting 'pooling'"):
    models.create("mlp_300", pooling="avg")
  with pytest.raises(ValueError, match="no setting 'activaton'; did you mean activation"):
    models.config("mlp_300", activaton="tanh")


@pytest.mark.parametrize("setting", [{"hidden": 300}, {"dropout": "0.5"},
                                     {"batch_norm": 1}, {"hidden": (300.5,)}])
def test_a_setting_of_the_wrong_type_is_named(setting):
  (key, value), = setting.items()
  with pytest.raises(ValueError, match=f"setting {key}=.* should be like its default"):
    models.config("mlp_300", **setting)


def test_config_section_holds_the_name_and_every_setting_at_its_default():
  section = models.config("convnet", activation="tanh")
  defaults = models.hyperparameters("convnet")
  assert section.name == "convnet" and section.activation == "tanh"
  assert set(section.keys()) == {"name", *defaults}
  assert {k: v for k, v in models.settings(section).items() if k != "activation"} == {
      k: v for k, v in defaults.items() if k != "activation"}
  assert models.build(section).activation == "tanh"


@pytest.mark.parametrize("name", models.names())
def test_every_model_takes_the_input_of_its_own_preprocessing(name):
  shape = input_shape(models.default_preprocess(name))
  variables = jax.eval_shape(models.build(models.config(name)).init, jax.random.key(0),
                             jnp.zeros((1, *shape)))
  assert variables["params"]


@pytest.mark.parametrize("setting", [{"pooling": "median"}, {"conv_mode": "fft"},
                                     {"conv_impl": "cuda"}, {"activation": "swishy"}])
def test_bad_setting_values_are_named(setting):
  (key, value), = setting.items()
  with pytest.raises(ValueError, match=repr(value)):
    models.create("convnet", **setting)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_max_pool_first_equals_activation_first(activation):
  """ConvPool pools before the (monotone) activation and bias: same numbers as
  the textbook order conv -> bias -> activation -> pool."""
  from convnets import ops
  from convnets.layers import ConvPool
  x = jax.random.normal(jax.random.key(1), (2, 28, 28, 1))
  layer = ConvPool(20, activation=activation)
  variables = layer.init(jax.random.key(0), x)
  conv = variables["params"]["conv"]
  bias = jax.random.normal(jax.random.key(2), (20,))
  expected = ops.pool2d(ops.get_activation(activation)(
      ops.conv2d(x, conv["kernel"], bias, impl="xla")))
  got = layer.apply({"params": {"conv": {"kernel": conv["kernel"], "bias": bias}}}, x)
  assert got.shape == (2, 12, 12, 20)
  assert jnp.allclose(got, expected, atol=1e-5)
