"""Preprocessing (LeCun's normalisation, padding, 16x16, deslanting) and the
random distortions (shift, affine, elastic) on synthetic and real digits."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ml_collections import ConfigDict

from convnets.configs.default import get_config
from convnets.data import augment, gallery, geometry, transforms


@pytest.fixture(scope="module")
def digits(mnist) -> np.ndarray:
  """300 real training digits, ``(300, 28, 28)`` uint8."""
  return mnist.train.images[:300]


def bar(rows=(6, 23), cols=(12, 17), size=28) -> np.ndarray:
  """An upright bar, rows and columns ``[start, stop)``; the default is
  symmetric about pixel (14, 14), where MNIST puts centres of mass."""
  image = np.zeros((size, size), np.float32)
  image[rows[0]:rows[1], cols[0]:cols[1]] = 1.0
  return image


def centre_of_mass(images) -> np.ndarray:
  return np.asarray(geometry.moments(jnp.asarray(images, jnp.float32))[0])


# Preprocessing --------------------------------------------------------------


def test_lecun_normalisation_maps_background_and_ink():
  images = jnp.array([[[0, 255], [51, 0]]], jnp.uint8)
  out = transforms.get_preprocessor("lecun")(images)
  np.testing.assert_allclose(out[0, :, :, 0], [[-0.1, 1.175], [-0.1 + 1.275 * 0.2, -0.1]],
                             rtol=1e-6)
  # The lecture's preprocessors are unchanged.
  np.testing.assert_allclose(transforms.scale(images)[..., 0], images / 255.0, rtol=1e-6)
  np.testing.assert_allclose(transforms.standardise(images)[..., 0],
                             (images / 255.0 - transforms.TRAIN_MEAN) / transforms.TRAIN_STD,
                             rtol=1e-5)


@pytest.mark.parametrize("geometry_name,size", [("", 28), ("pad32", 32), ("crop20", 20),
                                                ("down16", 16), ("down16_pad28", 28)])
def test_every_preprocessor_shape(geometry_name, size):
  for norm in transforms.NORMALISATIONS:
    for deslant in (False, True):
      name = transforms.preprocessor_name(norm, geometry_name, deslant)
      out = jax.eval_shape(transforms.get_preprocessor(name),
                           jax.ShapeDtypeStruct((5, 28, 28), jnp.uint8))
      assert (out.shape, out.dtype) == ((5, size, size, 1), jnp.float32)
  assert len(transforms.PREPROCESSORS) == 2 * 3 * 5


def test_pad32_centres_the_digit_on_background(digits):
  out = np.asarray(transforms.get_preprocessor("lecun_pad32")(digits[:4]))[..., 0]
  inner = np.asarray(transforms.get_preprocessor("lecun")(digits[:4]))[..., 0]
  np.testing.assert_array_equal(out[:, 2:30, 2:30], inner)
  border = np.ones((32, 32), bool)
  border[2:30, 2:30] = False
  np.testing.assert_allclose(out[:, border], -0.1)


def test_down16_keeps_the_digit_and_its_ink(digits):
  down = np.asarray(transforms.down16(jnp.asarray(digits, jnp.float32) / 255))
  # Area-preserving: ink scales by (16/20)^2; a blank stays blank, a constant constant.
  crop = digits[:, 4:24, 4:24] / 255
  np.testing.assert_allclose(down.sum(axis=(1, 2)), 0.64 * crop.sum(axis=(1, 2)), rtol=0.05)
  assert np.all(down >= -1e-6) and np.all(down <= 1 + 1e-6)
  flat = transforms.down16(jnp.full((1, 28, 28), 0.7))
  np.testing.assert_allclose(flat, 0.7, rtol=1e-5)
  framed = np.asarray(transforms.get_preprocessor("scale_down16_pad28")(digits[:2]))[..., 0]
  np.testing.assert_allclose(framed[:, 6:22, 6:22], down[:2], atol=1e-6)
  assert np.all(framed[:, :6] == 0) and np.all(framed[:, 22:] == 0)


def test_deslant_leaves_an_upright_symmetric_digit_unchanged():
  image = bar()[None]
  np.testing.assert_allclose(geometry.deslant(image), image, atol=1e-5)
  blank = geometry.deslant(np.zeros((1, 28, 28), np.float32))
  assert np.all(blank == 0)


def test_deslant_straightens_a_slanted_bar():
  # A bar leaning right (top to the right): column = 14 - 0.5 (row - 14).
  slanted = np.zeros((28, 28), np.float32)
  for row in range(6, 23):
    col = int(round(14 - 0.5 * (row - 14)))
    slanted[row, col - 1:col + 2] = 1.0
  _, mu02, mu11 = geometry.moments(slanted[None])
  assert float(mu11[0] / mu02[0]) == pytest.approx(-0.5, abs=0.05)
  out = geometry.deslant(slanted[None])
  com, mu02_out, mu11_out = geometry.moments(out)
  assert abs(float(mu11_out[0] / mu02_out[0])) < 0.02
  np.testing.assert_allclose(com[0], [14.0, 14.0], atol=0.05)
  # Ink is kept (up to resampling), and each row's ink now sits in the centre.
  assert float(out.sum()) == pytest.approx(float(slanted.sum()), rel=0.02)
  rows = np.asarray(out[0, 7:22])
  row_centres = (rows * np.arange(28)).sum(axis=1) / rows.sum(axis=1)
  # (The drawn bar's rows step by whole pixels: +-0.5 around its axis.)
  np.testing.assert_allclose(row_centres, 14.0, atol=0.6)


def test_deslant_reduces_the_skew_of_real_digits(digits):
  unit = jnp.asarray(digits, jnp.float32) / 255
  _, mu02, mu11 = geometry.moments(unit)
  out = geometry.deslant(unit)
  com, mu02_out, mu11_out = geometry.moments(out)
  before = np.abs(np.asarray(mu11 / mu02)).mean()
  after = np.abs(np.asarray(mu11_out / mu02_out)).mean()
  assert before > 0.1
  assert after < 0.05 * before
  np.testing.assert_allclose(np.asarray(com).mean(axis=0), [14.0, 14.0], atol=0.05)
  # Through the preprocessor too.
  pre = transforms.get_preprocessor("deslant_scale")(digits)[..., 0]
  np.testing.assert_allclose(pre, out, atol=1e-5)


# Distortions ----------------------------------------------------------------

# The configured defaults, so that these tests, make_augmentation's and the
# gallery's share compiled programs (distort is jitted per shape and parameters).
AFFINE = augment.affine_ranges(get_config().augment.affine)
ELASTIC = augment.elastic_params(get_config().augment.elastic)
IDENTITY = augment.AffineRanges()
N = 16


@pytest.mark.parametrize("affine,elastic", [(AFFINE, None), (None, ELASTIC),
                                            (AFFINE, ELASTIC)])
def test_distortions_keep_shape_dtype_range_and_follow_the_key(digits, affine, elastic):
  images = digits[:N]
  run = lambda key, x: augment.distort(key, x, affine=affine, elastic=elastic)
  out = run(jax.random.key(0), images)
  assert out.shape == images.shape and out.dtype == jnp.uint8
  assert int(out.max()) <= 255 and int(out.max()) > 200
  np.testing.assert_array_equal(out, run(jax.random.key(0), images))
  other = run(jax.random.key(1), images)
  assert np.mean(np.asarray(other) != np.asarray(out)) > 0.02
  assert np.mean(np.asarray(out) != images) > 0.02
  # The same image gets a different distortion in every slot of the batch.
  same = run(jax.random.key(2), np.repeat(images[:1], N, axis=0))
  assert len({np.asarray(x).tobytes() for x in same}) == N


def test_float_images_stay_float_in_range(digits):
  unit = augment.distort(jax.random.key(0), digits[:N].astype(np.float32) / 255, affine=AFFINE,
                         elastic=None)
  assert unit.dtype == jnp.float32 and float(unit.min()) >= 0 and float(unit.max()) <= 1 + 1e-6
  assert float(unit.max()) > 0.8


def test_identity_parameters_reproduce_the_input(digits):
  images = digits[:N]
  np.testing.assert_array_equal(augment.distort(jax.random.key(3), images, IDENTITY), images)
  # One image: elastic programs compile several times faster for one image than a batch.
  still = augment.ElasticParams(alpha=0.0, sigma=4.0)
  np.testing.assert_array_equal(augment.distort(jax.random.key(3), images[:1], None, still),
                                images[:1])


def test_affine_translation_moves_the_ink_rigidly():
  ranges = augment.AffineRanges(translate_pixels=3.0)
  images = np.repeat(bar(rows=(8, 20), cols=(11, 16))[None], N, axis=0)
  out = augment.affine_distort(jax.random.key(5), images, ranges)
  moved = centre_of_mass(out) - centre_of_mass(images)
  assert np.all(np.abs(moved) <= 3.0 + 1e-3)
  assert np.abs(moved).max() > 1.0
  # Shape is kept: same ink, same spread.
  np.testing.assert_allclose(out.sum(axis=(1, 2)), images.sum(axis=(1, 2)), rtol=1e-4)
  _, mu02, mu11 = geometry.moments(out)
  _, mu02_in, _ = geometry.moments(images)
  np.testing.assert_allclose(mu02, mu02_in, rtol=0.15)
  np.testing.assert_allclose(mu11, 0.0, atol=0.1)


def test_affine_rotation_turns_about_the_centre():
  # A small blob 6 pixels above the centre, rotated by up to 60 degrees.
  grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij"))
  blob = np.exp(-((grid[0] - 7.5) ** 2 + (grid[1] - 13.5) ** 2) / 2.0).astype(np.float32)
  images = np.repeat(blob[None], N, axis=0)
  out = augment.affine_distort(jax.random.key(6), images,
                               augment.AffineRanges(rotation_degrees=60))
  offset = centre_of_mass(out) - 13.5
  np.testing.assert_allclose(np.hypot(offset[:, 0], offset[:, 1]), 6.0, atol=0.1)
  angles = np.degrees(np.arctan2(offset[:, 1], -offset[:, 0]))
  assert np.all(np.abs(angles) <= 60.5) and np.abs(angles).max() > 20


def covariance(images) -> np.ndarray:
  """``(N, 2, 2)`` covariance of each image's ink position ``(row, column)``."""
  grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij")).reshape(2, -1)
  weights = np.asarray(images, np.float64).reshape(len(images), -1)
  weights = weights / weights.sum(axis=1, keepdims=True)
  mean = weights @ grid.T
  centred = grid[None] - mean[:, :, None]
  return np.einsum("np,nap,nbp->nab", weights, centred, centred)


def test_affine_scale_squeeze_and_shear_act_on_the_ink_spread():
  # An upright Gaussian ellipse at the centre: row std 4, column std 2.5. (Bilinear
  # resampling blurs by up to half a pixel, a few per cent of these spreads.)
  grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij")) - 13.5
  ellipse = np.exp(-0.5 * ((grid[0] / 4) ** 2 + (grid[1] / 2.5) ** 2)).astype(np.float32)
  images = np.repeat(ellipse[None], N, axis=0)
  before = covariance(images)[0]

  def factors(ranges):
    after = covariance(augment.affine_distort(jax.random.key(7), images, ranges))
    return np.sqrt(after[:, 0, 0] / before[0, 0]), np.sqrt(after[:, 1, 1] / before[1, 1]), after

  # Scale: both axes by the same factor in [0.7, 1.3].
  rows, cols, _ = factors(augment.AffineRanges(scale=0.3))
  np.testing.assert_allclose(rows, cols, rtol=0.04)
  assert np.all((rows > 0.69) & (rows < 1.31)) and np.ptp(rows) > 0.2
  # Squeeze: widths by 1 + q, heights by 1 / (1 + q): the area is kept.
  rows, cols, _ = factors(augment.AffineRanges(squeeze=0.3))
  np.testing.assert_allclose(rows * cols, 1.0, rtol=0.04)
  assert np.all((cols > 0.69) & (cols < 1.31)) and np.ptp(cols) > 0.2
  # Horizontal shear k: rows keep their spread, columns follow rows, cov = k var(row).
  rows, _, after = factors(augment.AffineRanges(shear=0.4))
  np.testing.assert_allclose(rows, 1.0, rtol=0.04)
  slopes = after[:, 0, 1] / after[:, 0, 0]
  assert np.all(np.abs(slopes) <= 0.41) and np.abs(slopes).max() > 0.2


def test_elastic_displacements_have_simard_statistics():
  params = augment.ElasticParams(alpha=34.0, sigma=4.0)
  field = jax.jit(lambda k: augment.elastic_displacement(k, 28, 28, params))
  disp = np.stack([field(k) for k in jax.random.split(jax.random.key(7), 64)])
  assert disp.shape == (64, 2, 28, 28)
  # Away from the zero-padded borders, uniform noise of variance 1/3 smoothed by
  # a normalised 2-D Gaussian has variance (1/3) / (4 pi sigma^2).
  expected = params.alpha * np.sqrt(1 / 3 / (4 * np.pi * params.sigma ** 2))
  assert float(disp[:, :, 10:18, 10:18].std()) == pytest.approx(expected, rel=0.15)
  # Smooth: neighbouring displacements are strongly correlated.
  a, b = disp[:, :, :, :-1].ravel(), disp[:, :, :, 1:].ravel()
  assert np.corrcoef(a, b)[0, 1] > 0.95
  # Rows far from the ends sum to 1 (normalised); near them, the kernel is cut.
  smoothing = augment.gaussian_smoothing_matrix(64, 4.0)
  np.testing.assert_allclose(smoothing[32].sum(), 1.0, rtol=1e-5)
  assert smoothing[0].sum() < 0.6


def test_random_shift_moves_the_centre_of_mass_by_the_drawn_offset(digits):
  # Digits whose ink stays inside the frame when moved by up to 2 pixels.
  images = digits[:64]
  key = jax.random.key(8)
  out = augment.random_shift(key, images, 2)
  offsets = np.asarray(augment.shift_offsets(key, len(images), 2))
  margin = np.all(images[:, :2] == 0, axis=(1, 2)) & np.all(images[:, -2:] == 0, axis=(1, 2))
  margin &= np.all(images[:, :, :2] == 0, axis=(1, 2)) & np.all(images[:, :, -2:] == 0,
                                                                  axis=(1, 2))
  assert margin.sum() > 50
  moved = centre_of_mass(out) - centre_of_mass(images)
  np.testing.assert_allclose(moved[margin], offsets[margin], atol=1e-3)
  assert out.dtype == jnp.uint8 and len(np.unique(offsets, axis=0)) > 10


def make_config(augment_name: str) -> ConfigDict:
  """The default config's ``augment`` section, called ``augment_name``."""
  section = get_config().augment
  section.name = augment_name
  return section


@pytest.mark.parametrize("name", augment.AUGMENTATIONS)
def test_make_augmentation_names(digits, name):
  images = digits[:N]
  out = augment.make_augmentation(make_config(name))(jax.random.key(9), images)
  assert out.shape == images.shape and out.dtype == jnp.uint8
  assert np.array_equal(out, images) == (name == "none")
  if name in ("affine", "elastic", "affine+elastic"):
    expected = augment.distort(jax.random.key(9), images,
                               affine=AFFINE if "affine" in name else None,
                               elastic=ELASTIC if "elastic" in name else None)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("overrides", [{"name": "rotate"}, {"elastic.sigma": 0.0},
                                       {"elastic.alpha": -1.0}, {"affine.scale": 1.0},
                                       {"affine.rotation_degrees": -5.0}])
def test_bad_augmentation_settings_are_errors(overrides):
  section = make_config("affine+elastic")
  for key, value in overrides.items():
    *parent, leaf = key.split(".")
    (section[parent[0]] if parent else section)[leaf] = value
  with pytest.raises(ValueError):
    augment.make_augmentation(section)


def test_gallery_writes_a_png(digits, mnist, tmp_path):
  rows = gallery.distortion_rows(jax.random.key(10), digits[:N], get_config())
  assert [name for name, _ in rows] == ["original", "deslanted", "affine", "elastic",
                                        "affine+elastic"]
  path = os.path.join(tmp_path, "gallery.png")
  gallery.save_gallery(rows, mnist.train.labels[:N], path)
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  with pytest.raises(ValueError):
    gallery.save_gallery(rows, mnist.train.labels[:N - 1], path)
