"""PCA/ZCA whitening, per-image normalisation and fitting preprocessors by name."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import linalg

from convnets.data import preprocessing
from convnets.data.transforms import PREPROCESSORS
from convnets.data.whitening import fit_whitening, whiten


def correlated(n: int = 20_000, d: int = 12, seed: int = 0) -> np.ndarray:
  """Gaussian rows with a random full-rank covariance and a non-zero mean."""
  rng = np.random.default_rng(seed)
  mixing = rng.normal(size=(d, d)) * rng.uniform(0.1, 3.0, size=d)
  return (rng.normal(size=(n, d)) @ mixing + rng.normal(size=d) * 5).astype(np.float32)


@pytest.mark.parametrize("kind", ["pca", "zca"])
def test_whitened_data_have_identity_covariance(kind):
  x = correlated()
  z = np.asarray(whiten(jnp.asarray(x), fit_whitening(x, kind, epsilon=0.0)), np.float64)
  np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-3)
  np.testing.assert_allclose(np.cov(z, rowvar=False, bias=True), np.eye(x.shape[1]), atol=2e-3)


def test_zca_is_the_inverse_square_root_of_the_covariance():
  """ZCA's matrix is (C + eps I)^(-1/2) (scipy's matrix power as the reference),
  symmetric, and moves the data less than PCA whitening does."""
  x = correlated()
  cov = np.cov(x.astype(np.float64), rowvar=False, bias=True)
  zca = fit_whitening(x, "zca", epsilon=0.5)
  expected = np.real(linalg.fractional_matrix_power(cov + 0.5 * np.eye(len(cov)), -0.5))
  np.testing.assert_allclose(zca.matrix, expected, rtol=1e-3, atol=1e-5)
  np.testing.assert_allclose(zca.matrix, zca.matrix.T, atol=1e-6)
  centred = x - x.mean(axis=0)
  exact = {kind: np.asarray(whiten(jnp.asarray(x), fit_whitening(x, kind, 0.0)))
           for kind in ("pca", "zca")}
  moved = {kind: np.square(z - centred).sum(axis=1).mean() for kind, z in exact.items()}
  assert moved["zca"] < moved["pca"]


def test_pca_components_come_largest_first():
  x = correlated()
  z = np.asarray(whiten(jnp.asarray(x), fit_whitening(x, "pca", epsilon=1.0)))
  variances = z.var(axis=0)  # lambda / (lambda + 1): increasing in lambda
  assert np.all(np.diff(variances) <= 1e-4)


def test_zca_fitted_to_mnist_matches_numpy(mnist):
  """The preprocessor fitted to 5,000 training digits: (N, 28, 28, 1), and its
  outputs have covariance C (C + eps I)^-1, C the pixels' covariance (NumPy)."""
  images = mnist.train.images[:5000]
  eps = 0.1
  preprocess = preprocessing.fit_preprocessor("zca", images, epsilon=eps)
  z = np.asarray(jax.jit(preprocess)(images), np.float64)
  assert z.shape == (5000, 28, 28, 1)
  unit = images.reshape(5000, -1) / 255.0
  cov = np.cov(unit, rowvar=False, bias=True)
  expected = cov @ np.linalg.inv(cov + eps * np.eye(784))
  np.testing.assert_allclose(np.cov(z.reshape(5000, -1), rowvar=False, bias=True), expected,
                             atol=2e-3)


def test_per_image_normalisation():
  images = np.zeros((3, 28, 28), np.uint8)
  images[0, 10:18, 12:16] = 255
  images[1] = np.arange(784).reshape(28, 28) % 256
  out = np.asarray(preprocessing.per_image(jnp.asarray(images)))
  assert out.shape == (3, 28, 28, 1)
  np.testing.assert_allclose(out[:2].mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
  np.testing.assert_allclose(out[:2].std(axis=(1, 2, 3)), 1.0, rtol=1e-4)
  np.testing.assert_array_equal(out[2], 0.0)  # a blank image stays finite


def test_every_name_is_known_and_the_old_ones_are_unchanged():
  names = preprocessing.names()
  assert set(PREPROCESSORS) <= set(names) and {"per_image", "pca", "zca"} <= set(names)
  images = np.zeros((2, 28, 28), np.uint8)
  for name in PREPROCESSORS:
    assert preprocessing.fit_preprocessor(name, images) is PREPROCESSORS[name]
  assert preprocessing.input_shape("lecun_pad32") == (32, 32, 1)
  assert preprocessing.input_shape("zca") == (28, 28, 1)
  with pytest.raises(ValueError, match="unknown preprocess 'sharpen'; known: scale"):
    preprocessing.fit_preprocessor("sharpen", images)


@pytest.mark.parametrize("name", ["zca", "per_image"])
def test_a_trained_run_reads_back_with_its_fitted_preprocessing(mnist, tmp_path, name):
  # A run reads back with the whitening it saved, fitted to its training
  # examples, so its logits reproduce the test accuracy measured in training.
  from convnets.configs import configure
  from convnets.configs.default import get_config
  from convnets.experiment.trained import load_run, logits
  from convnets.train import train_and_evaluate

  config = configure(get_config(), {"model.name": "mlp_300", "data.preprocess": name,
                                    "data.train_subset": 2000, "epochs": 1,
                                    "augment.name": "none"})
  summary = train_and_evaluate(config, str(tmp_path / name), data=mnist, log=lambda line: None)
  run = load_run(str(tmp_path / name))
  predictions = logits(run.model, run.variables, mnist.test.images, run.preprocess).argmax(-1)
  assert summary["test_accuracy"] > 0.5
  assert summary["test_accuracy"] == pytest.approx(
      float((predictions == mnist.test.labels).mean()), abs=1e-6)
