"""The lecture's hand-designed kernels, the ConvNet's fixed or hand-initialised
first layer, and the ``kernels`` and ``translation`` experiments (``--quick``
on a few hundred digits, a few variants each)."""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from ml_collections import ConfigDict
from scipy import signal

from convnets import models
from convnets.configs.default import get_config
from convnets.data import MNIST
from convnets.experiment import Settings
from convnets.experiment.runner import run_experiment
from convnets.experiment.spec import QUICK_EXAMPLES
from convnets.ops import conv2d
from convnets.ops.kernels import HAND_DESIGNED, hand_designed_bank
from convnets.train import optim
from convnets.train.step import init_state, make_train_step
from experiments import get
from experiments.kernels import movement, resemblance
from experiments.translation import rotated, shifted
from tests.cli_runs import error_line, run_cli

LECTURE_ORDER = ["identity", "edge (diagonal)", "edge (4-neighbour)", "edge (8-neighbour)",
                 "sharpen"]


def no_pictures() -> ConfigDict:
  """The default config without per-run pictures (test_pictures.py tests those)."""
  config = get_config()
  config.pictures = False
  return config


def test_hand_designed_kernels_are_the_lectures_in_its_order():
  assert list(HAND_DESIGNED) == LECTURE_ORDER
  assert HAND_DESIGNED["edge (diagonal)"].tolist() == [[1, 0, -1], [0, 0, 0], [-1, 0, 1]]
  assert HAND_DESIGNED["edge (8-neighbour)"].sum() == 0 and HAND_DESIGNED["sharpen"].sum() == 1


@pytest.mark.parametrize("size", [3, 5, 7])
def test_bank_filters_an_image_as_scipy_does_with_each_3x3_kernel(size):
  """The bank embedded in a larger window computes each 3x3 kernel's
  correlation, cropped by the wider border (SciPy's ``correlate2d`` the reference)."""
  bank = hand_designed_bank(size)
  assert bank.shape == (size, size, 1, 5)
  image = np.random.default_rng(0).random((1, 12, 12, 1)).astype(np.float32)
  maps = np.asarray(conv2d(image, bank, impl="naive"))
  crop = (size - 3) // 2
  for f, kernel in enumerate(HAND_DESIGNED.values()):
    want = signal.correlate2d(image[0, :, :, 0], kernel, mode="valid")
    want = want[crop:want.shape[0] - crop, crop:want.shape[1] - crop]
    np.testing.assert_allclose(maps[0, :, :, f], want, atol=1e-5)
  np.testing.assert_array_equal(maps[0, :, :, 0], image[0, size // 2:12 - size // 2,
                                                          size // 2:12 - size // 2, 0])


@pytest.mark.parametrize("size", [2, 4, 1])
def test_bank_refuses_sizes_without_a_centre(size):
  with pytest.raises(ValueError, match="odd kernel size >= 3"):
    hand_designed_bank(size)


def test_convnet_settings_are_checked_and_described():
  assert models.hyperparameters("convnet")["first_kernels"] == "random"
  with pytest.raises(ValueError, match="unknown first_kernels 'hand'"):
    models.create("convnet", first_kernels="hand")
  with pytest.raises(ValueError, match="set conv_features to start with 5"):
    models.create("convnet", first_kernels="hand_designed")
  with pytest.raises(ValueError, match="first_fixed=1 should be like its default False"):
    models.create("convnet", first_fixed=1)


def test_a_bad_first_layer_setting_is_one_error_line_on_the_command_line(tmp_path):
  line = error_line(run_cli("--config.model.first_kernels=hand_designed", "--quick",
                            f"--workdir={tmp_path / 'w'}"))
  assert "conv_features" in line and "5" in line


def train(model, tx, steps=3):
  """``steps`` training steps on random 12x12 images (small, to compile
  fast); the initial and final params."""
  rng = np.random.default_rng(0)
  batch = {"images": jnp.asarray(rng.random((8, 12, 12, 1)), jnp.float32),
           "labels": jnp.asarray(rng.integers(0, 10, 8), jnp.int32)}
  state = init_state(model, tx, jax.random.PRNGKey(0), (12, 12, 1))
  step = jax.jit(make_train_step(model, tx, l1=1e-3, l2=1e-3))
  start = state.params
  for _ in range(steps):
    state, _ = step(state, batch)
  return start, state.params


OPTIMIZERS = [dict(name="adam", weight_decay=0.1), dict(name="momentum", weight_decay=0.1),
              dict(name="sgd", weight_decay=0.0)]


FIXED_CASES = [("hand_designed", s) for s in OPTIMIZERS] + [("random", OPTIMIZERS[0])]


@pytest.mark.parametrize("kernels, settings", FIXED_CASES,
                         ids=[f"{k}-{s['name']}" for k, s in FIXED_CASES])
def test_a_fixed_first_layer_stays_bit_for_bit_whatever_the_optimiser(kernels, settings):
  """Decoupled weight decay (AdamW), momentum and L1/L2 penalties all push on
  the fixed kernel; it and its bias stay exactly as initialised, the rest trains."""
  model = models.create("convnet", conv_features=(5,), hidden=(8,), first_kernels=kernels,
                        first_fixed=True)
  section = ConfigDict({**get_config().optimizer.to_dict(), **settings, "learning_rate": 0.05})
  tx = optim.make_optimizer(section, 1, 5, fixed=optim.fixed_params(model))
  start, end = train(model, tx)
  for name in ("kernel", "bias"):
    np.testing.assert_array_equal(end["conv1"]["conv"][name], start["conv1"]["conv"][name])
  if kernels == "hand_designed":
    np.testing.assert_array_equal(start["conv1"]["conv"]["kernel"], hand_designed_bank(5))
  assert not np.array_equal(end["hidden1"]["kernel"], start["hidden1"]["kernel"])
  assert not np.array_equal(end["output"]["bias"], start["output"]["bias"])


def test_an_unfixed_hand_designed_layer_starts_there_and_trains():
  model = models.create("convnet", conv_features=(5,), hidden=(8,),
                        first_kernels="hand_designed")
  assert optim.fixed_params(model) == ()
  start, end = train(model, optim.make_optimizer(get_config().optimizer, 1, 5))
  np.testing.assert_array_equal(start["conv1"]["conv"]["kernel"], hand_designed_bank(5))
  assert not np.array_equal(end["conv1"]["conv"]["kernel"], start["conv1"]["conv"]["kernel"])


def test_freezing_zeroes_exactly_the_named_subtrees():
  params = {"a": {"b": jnp.ones(3), "c": jnp.ones(2)}, "d": jnp.ones(1)}
  tx = optim.freeze(optax.sgd(1.0), [("a", "b")])
  grads = jax.tree.map(jnp.ones_like, params)
  updates, _ = tx.update(grads, tx.init(params), params)
  assert updates["a"]["b"].tolist() == [0, 0, 0]
  assert updates["a"]["c"].tolist() == [-1, -1] and updates["d"].tolist() == [-1]


def test_resemblance_is_one_for_a_moved_scaled_negated_hand_kernel_and_matches_corrcoef():
  rng = np.random.default_rng(1)
  kernels = rng.normal(size=(5, 5, 3))
  kernels[:, :, 0] = 0
  kernels[0:3, 2:5, 0] = -2.5 * HAND_DESIGNED["edge (4-neighbour)"]   # off-centre, negated
  got = resemblance(kernels)
  assert got[0] == pytest.approx(1.0, abs=1e-6)
  for m in (1, 2):  # the brute-force reference: every kernel at every placement
    best = 0.0
    for kernel in HAND_DESIGNED.values():
      for i in range(3):
        for j in range(3):
          target = np.zeros((5, 5))
          target[i:i + 3, j:j + 3] = kernel
          best = max(best, abs(np.corrcoef(kernels[:, :, m].ravel(), target.ravel())[0, 1]))
    assert got[m] == pytest.approx(best, abs=1e-5)


def test_movement_of_kernels_against_hand_computed_values():
  start = hand_designed_bank(5)[:, :, 0, :2]
  end = start.copy()
  end[:, :, 1] *= 3.0                     # scaled: moved by 2x its norm, r still 1
  end[2, 2, 0] += 1.0                     # identity -> 2 at the centre: moved by 1
  got = movement(start, end)
  np.testing.assert_allclose(got["relative_change"], [1.0, 2.0], rtol=1e-6)
  np.testing.assert_allclose(got["correlation_with_start"], [1.0, 1.0], rtol=1e-6)


def test_test_set_shifts_and_rotations_against_numpy():
  images = np.random.default_rng(2).integers(0, 256, (3, 28, 28)).astype(np.uint8)
  np.testing.assert_array_equal(np.asarray(shifted(jnp.asarray(images), 2, -3))[:, 2:, :-3],
                                images[:, :-2, 3:])
  assert not np.asarray(shifted(jnp.asarray(images), 2, -3))[:, :2].any()
  # A quarter turn about the centre maps pixels onto pixels: NumPy's rot90 exactly.
  np.testing.assert_array_equal(np.asarray(rotated(jnp.asarray(images), 90)),
                                np.rot90(images, 1, axes=(1, 2)))
  np.testing.assert_array_equal(np.asarray(rotated(jnp.asarray(images), 0)), images)


SMALL = 400
QUICK = {"kernels": ("random_fixed5", "hand_learned"),
         "translation": ("max_none",)}


@pytest.fixture(scope="module")
def quick(mnist, tmp_path_factory) -> str:
  """One ``--quick`` run of each experiment on ``SMALL`` validation and test
  digits (and ``QUICK_EXAMPLES`` training digits: translation trains on a
  subset, which ``--quick`` cuts to that many)."""
  small = MNIST(mnist.train.take(QUICK_EXAMPLES), mnist.valid.take(SMALL), mnist.test.take(SMALL))
  root = tmp_path_factory.mktemp("lecture_ideas")
  for name, variants in QUICK.items():
    run_experiment(get(name), str(root / name), config=no_pictures(), data=small,
                   settings=Settings(seeds=(0,), quick=True, variants=variants),
                   log=lambda line: None)
  return str(root)


def load(root: str, name: str) -> dict:
  with open(os.path.join(root, name, "results.json")) as f:
    return json.load(f)


def test_kernels_quick_run_measures_resemblance_and_movement(quick):
  results = load(quick, "kernels")
  analysis = results["analysis"]
  assert set(analysis["resemblance"]) == {"random_fixed5", "hand_learned"}
  assert all(len(seed) == 5 for seed in analysis["resemblance"]["hand_learned"])
  movement_, = analysis["movement"]
  assert 0 < min(movement_["relative_change"])
  assert max(movement_["correlation_with_start"]) <= 1 + 1e-6
  with open(os.path.join(quick, "kernels", "results.md")) as f:
    text = f.read()
  assert "### Learned kernels against the hand-designed ones" in text
  assert "### How far the hand-designed kernels moved when trained" in text
  for figure in ("kernels.png", "feature_maps.png"):
    assert f"]({figure})" in text and os.path.getsize(os.path.join(quick, "kernels", figure)) > 5000


def test_translation_quick_run_sweeps_shifts_and_angles(quick):
  results = load(quick, "translation")
  analysis = results["analysis"]
  for name in QUICK["translation"]:
    sweep = analysis["variants"][name]
    shift, = sweep["shift"]
    rotation, = sweep["rotation"]
    assert len(shift) == len(analysis["shifts"]) and len(rotation) == len(analysis["angles"])
    run, = next(v for v in results["variants"] if v["name"] == name)["runs"]
    assert shift[0] == pytest.approx(run["test_error"])          # shift 0 is the test set
    assert analysis["sweep_examples"] == SMALL
    assert rotation[analysis["angles"].index(0)] == shift[0]
  with open(os.path.join(quick, "translation", "results.md")) as f:
    text = f.read()
  assert "### Test error against shift" in text and "### Test error against rotation" in text
  for figure in ("error_vs_shift.png", "error_vs_rotation.png"):
    assert f"]({figure})" in text
    assert os.path.getsize(os.path.join(quick, "translation", figure)) > 5000
