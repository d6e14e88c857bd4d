"""Data sets by name: MNIST and Fashion-MNIST from IDX files (checksums of
their contents, the folder lookup, one-line errors through the command line),
class names, and a colour tensorflow-datasets set trained end to end."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from convnets import models
from convnets.configs.default import get_config
from convnets.data import DataError, gallery, load
from convnets.data import mnist as mnist_lib
from convnets.train.checks import ConfigError, check_config
from convnets.train.pipeline import model_input_shape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The data's README: "Classes 0-9: T-shirt/top, Trouser, ...".
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")


@pytest.fixture(scope="session")
def fashion_dir() -> str:
  """The folder the library's lookup finds Fashion-MNIST in; fails (not
  skips), with the library's message, when none holds it."""
  try:
    # Absolute: subprocesses run elsewhere (CI's path is relative).
    return os.path.abspath(os.path.dirname(
        mnist_lib.find_files(None, "fashion_mnist")["train_images"]))
  except DataError as e:
    pytest.fail(str(e))


def contents_sha256(path: str) -> str:
  with gzip.open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def copy_dataset(source: str, target, **replaced: bytes) -> None:
  """Links to ``source``'s four files in ``target``, except those named in
  ``replaced`` (file name -> new decompressed contents, gzip-compressed here)."""
  os.makedirs(target, exist_ok=True)
  for file in mnist_lib.FILES.values():
    if file in replaced:
      with gzip.GzipFile(os.path.join(target, file), "wb", compresslevel=1, mtime=1) as f:
        f.write(replaced[file])
    else:
      os.symlink(os.path.join(source, file), os.path.join(target, file))


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, os.path.join(ROOT, "run_experiment.py"), *args],
                        capture_output=True, text=True, timeout=120, cwd=cwd)


def test_fashion_mnist_loads_with_its_checksums_and_classes(fashion_dir, mnist_dir):
  for name, folder in (("fashion_mnist", fashion_dir), ("mnist", mnist_dir)):
    sums = {file: contents_sha256(os.path.join(folder, file)) for file in mnist_lib.FILES.values()}
    assert sums == mnist_lib.IDX_DATASETS[name].sha256, name
  data = load(name="fashion_mnist")
  assert (len(data.train), len(data.valid), len(data.test)) == (50_000, 10_000, 10_000)
  assert data.train.images.shape == (50_000, 28, 28) and data.train.images.dtype == np.uint8
  assert data.name == "fashion_mnist" and data.class_names == FASHION_CLASSES
  # The data's README: 6,000 training and 1,000 test images of each class;
  # mean pixel value train 72.94, test 73.15.
  labels = np.concatenate([data.train.labels, data.valid.labels])
  np.testing.assert_array_equal(np.bincount(labels), [6000] * 10)
  np.testing.assert_array_equal(np.bincount(data.test.labels), [1000] * 10)
  assert np.concatenate([data.train.images, data.valid.images]).mean() == pytest.approx(
      72.94, abs=0.01)
  assert data.test.images.mean() == pytest.approx(73.15, abs=0.01)


def test_checksums_cover_the_contents_not_the_gzip_header(tmp_path, mnist_dir):
  """A copy compressed anew (another header, as Debian's and the shared copy
  have) verifies; one changed label does not, naming the file."""
  file = mnist_lib.FILES["test_labels"]
  with gzip.open(os.path.join(mnist_dir, file), "rb") as f:
    raw = f.read()
  copy_dataset(mnist_dir, tmp_path / "same", **{file: raw})
  assert (tmp_path / "same" / file).read_bytes() != open(os.path.join(mnist_dir, file),
                                                         "rb").read()
  np.testing.assert_array_equal(load(str(tmp_path / "same")).test.labels,
                                np.frombuffer(raw, np.uint8, offset=8))
  changed = raw[:8] + bytes([(raw[8] + 1) % 10]) + raw[9:]  # still a valid IDX file of digits
  copy_dataset(mnist_dir, tmp_path / "changed", **{file: changed})
  with pytest.raises(DataError, match=f"{file}: its decompressed contents have SHA-256"):
    load(str(tmp_path / "changed"))


def test_cli_names_a_corrupt_fashion_file_in_one_line(tmp_path, fashion_dir):
  file = mnist_lib.FILES["train_labels"]
  with gzip.open(os.path.join(fashion_dir, file), "rb") as f:
    raw = f.read()
  data_dir = tmp_path / "data"
  copy_dataset(fashion_dir, data_dir, **{file: raw[:-1] + bytes([(raw[-1] + 1) % 10])})
  run = run_cli("--config.data.name=fashion_mnist", f"--data_dir={data_dir}",
                f"--workdir={tmp_path / 'run'}", cwd=tmp_path)
  assert run.returncode != 0 and run.stderr.splitlines() == [run.stderr.strip()], run.stderr
  assert run.stderr.startswith(f"error: {data_dir / file}: its decompressed contents")
  assert "delete it and fetch it again (--download)" in run.stderr
  assert not (tmp_path / "run").exists()


def test_cli_names_a_missing_fashion_file_and_the_fix(tmp_path, fashion_dir):
  data_dir = tmp_path / "data"
  copy_dataset(fashion_dir, data_dir)
  (data_dir / mnist_lib.FILES["test_labels"]).unlink()
  run = run_cli("--config.data.name=fashion_mnist", f"--data_dir={data_dir}",
                f"--workdir={tmp_path / 'run'}", cwd=tmp_path)
  assert run.returncode != 0 and run.stderr.splitlines() == [run.stderr.strip()], run.stderr
  assert run.stderr.startswith("error: Fashion-MNIST files not found: looked for ")
  for hint in (str(data_dir), "--data_dir", "CONVNETS_FASHION_MNIST_DIR",
               "--download --config.data.name=fashion_mnist"):
    assert hint in run.stderr


def test_unknown_name_is_a_config_error():
  config = get_config()
  config.data.name = "kmnist"
  with pytest.raises(ConfigError, match=r"^config.data.name='kmnist': must be one of mnist, "
                     r"fashion_mnist, or tfds:NAME"):
    check_config(config)


def touch_dataset(folder) -> str:
  os.makedirs(folder, exist_ok=True)
  for file in mnist_lib.FILES.values():
    open(os.path.join(folder, file), "wb").close()
  return str(folder)


def test_lookup_order(tmp_path, monkeypatch):
  own, shared, cache = tmp_path / "own", tmp_path / "shared", tmp_path / "cache"
  system = touch_dataset(tmp_path / "usr" / "fashion-mnist")
  spec = dataclasses.replace(mnist_lib.IDX_DATASETS["fashion_mnist"], system_dirs=(system,))
  monkeypatch.setitem(mnist_lib.IDX_DATASETS, "fashion_mnist", spec)
  monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
  monkeypatch.setenv("CONVNETS_FASHION_MNIST_DIR", str(own))
  monkeypatch.setenv("CONVNETS_DATA_DIR", str(shared))
  assert mnist_lib.candidate_dirs(None, "fashion_mnist") == [
      str(own), str(own / "fashion_mnist"), str(own / "fashion-mnist"),
      str(shared / "fashion_mnist"), str(shared / "fashion-mnist"),
      str(cache / "convnets" / "fashion_mnist"), system]
  found = lambda *args: os.path.dirname(mnist_lib.find_files(*args)["train_images"])
  assert found(None, "fashion_mnist") == system  # the last place, nothing before it
  touch_dataset(cache / "convnets" / "fashion_mnist")
  assert found(None, "fashion_mnist") == str(cache / "convnets" / "fashion_mnist")
  # MNIST's own files in CONVNETS_DATA_DIR are never taken for Fashion-MNIST's.
  touch_dataset(shared)
  touch_dataset(shared / "fashion-mnist")
  assert found(None, "fashion_mnist") == str(shared / "fashion-mnist")
  assert found(None, "mnist") == str(shared)
  touch_dataset(own / "fashion_mnist")
  assert found(None, "fashion_mnist") == str(own / "fashion_mnist")
  # --data_dir, when given, is the only place (and the folders under it).
  assert mnist_lib.candidate_dirs(str(tmp_path / "flag"), "fashion_mnist") == [
      str(tmp_path / "flag"), str(tmp_path / "flag" / "fashion_mnist"),
      str(tmp_path / "flag" / "fashion-mnist")]
  with pytest.raises(DataError, match="Fashion-MNIST files not found"):
    mnist_lib.find_files(str(tmp_path / "flag"), "fashion_mnist")


def test_class_names_match_tfds_and_label_the_gallery(tmp_path, monkeypatch):
  tfds = pytest.importorskip("tensorflow_datasets")
  for name in ("mnist", "fashion_mnist"):
    names = tfds.builder(name).info.features["label"].names
    assert mnist_lib.IDX_DATASETS[name].class_names == tuple(names)
  figures = []
  monkeypatch.setattr(gallery.plt, "close", figures.append)
  images = np.zeros((3, 28, 28), np.uint8)
  gallery.save_gallery([("original", images)], [9, 0, 3], str(tmp_path / "g.png"),
                       class_names=FASHION_CLASSES)
  titles = [ax.get_title() for ax in figures[0].axes]
  assert titles == ["Ankle boot", "T-shirt/top", "Dress"]


def colour_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  rng = np.random.default_rng(seed)
  return (rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
          rng.integers(0, 10, n).astype(np.int64))


@pytest.fixture
def mock_cifar10():
  """tfds's ``cifar10`` mocked (no TensorFlow, no files): its features from
  tfds's code, its splits the arrays returned."""
  tfds = pytest.importorskip("tensorflow_datasets")
  arrays = {"train": colour_arrays(72, 0), "test": colour_arrays(20, 1)}

  def source(builder, split, **kwargs):
    images, labels = arrays[split]
    return [{"image": image, "label": label, "id": str(k)}
            for k, (image, label) in enumerate(zip(images, labels))]

  with tfds.testing.mock_data(as_data_source_fn=source):
    yield arrays


def test_colour_tfds_set_loads_as_three_input_maps(mock_cifar10):
  data = load(name="tfds:cifar10", train_size=64)
  np.testing.assert_array_equal(data.train.images, mock_cifar10["train"][0][:64])
  np.testing.assert_array_equal(data.valid.labels, mock_cifar10["train"][1][64:])
  assert data.image_shape == (32, 32, 3) and len(data.class_names) == 10
  config = get_config("mlp_300")
  config.data.name = "tfds:cifar10"
  assert model_input_shape(config) == (32, 32, 3)
  params = jax.eval_shape(models.build(config.model).init, jax.random.key(0),
                          jax.ShapeDtypeStruct((1, *model_input_shape(config)), np.float32))
  first = [leaf for leaf in jax.tree_util.tree_leaves(params) if leaf.ndim == 2][0]
  assert first.shape[0] == 32 * 32 * 3  # the MLP sees every pixel of every colour map


def test_colour_tfds_set_trains_end_to_end(tmp_path, mock_cifar10):
  from convnets.train import train_and_evaluate
  from convnets.train.workdir import load_variables

  config = get_config()
  config.data.name = "tfds:cifar10"
  config.data.train_size = 64
  config.update(epochs=1, batch_size=32, eval_batch_size=8, tensorboard=False)
  summary = train_and_evaluate(config, str(tmp_path / "run"), log=lambda line: None)
  saved = json.loads((tmp_path / "run" / "summary.json").read_text())
  assert saved["dataset"] == summary["dataset"] == "tfds:cifar10"
  assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["name"] == (
      "tfds:cifar10")
  kernels = [v for v in jax.tree_util.tree_leaves(
      load_variables(str(tmp_path / "run"))) if v.ndim == 4]
  assert kernels[0].shape == (5, 5, 3, 20)  # 20 maps of 5x5 over the 3 colour input maps
  # Its pictures, with the data set's class names: kernels averaged over the colour maps.
  assert {"confusion.png", "misclassified.png", "kernels.png", "feature_maps.png"} <= set(
      os.listdir(tmp_path / "run"))


def test_colour_images_move_and_preprocess_channel_by_channel():
  """Augmentation and preprocessing of ``(N, H, W, 3)`` images equal those of
  each channel as a greyscale image (the same offsets and positions for all)."""
  from convnets.data import augment, geometry, preprocessing

  images = colour_arrays(4, 2)[0][:, :12, :12]
  offsets = np.array([[2, -1], [0, 0], [-2, 2], [1, 1]])
  coords = np.stack(np.meshgrid(np.arange(12), np.arange(12), indexing="ij"))[None] + 0.3
  coords = np.repeat(coords, 4, axis=0)
  for c in range(3):
    np.testing.assert_array_equal(augment.shift(images, offsets, 2)[..., c],
                                  augment.shift(images[..., c], offsets, 2))
    np.testing.assert_array_equal(geometry.resample_batch(images, coords)[..., c],
                                  geometry.resample_batch(images[..., c], coords))
  assert preprocessing.input_shape("lecun_pad32", (12, 12, 3)) == (32, 32, 3)
  unit = images / 255.0  # one mean and std per image, over all its channels
  expected = (unit - unit.mean(axis=(1, 2, 3), keepdims=True)) / unit.std(axis=(1, 2, 3),
                                                                          keepdims=True)
  np.testing.assert_allclose(preprocessing.per_image(images), expected, rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError, match="preprocess 'deslant_scale' cannot take 12x12x3 images"):
    preprocessing.input_shape("deslant_scale", (12, 12, 3))


def test_data_must_match_the_config():
  from convnets.data import Dataset, Split
  from convnets.train.pipeline import check_data

  split = lambda shape: Split(np.zeros((2, *shape), np.uint8), np.zeros(2, np.int32))
  config = get_config()
  check_data(config, Dataset(split((28, 28)), split((28, 28)), split((28, 28))))
  colour = Dataset(split((32, 32, 3)), split((32, 32, 3)), split((32, 32, 3)))
  with pytest.raises(ConfigError, match=r"config.data.name='mnist' declares images of shape "
                     r"\(28, 28\), but the data given have \(32, 32, 3\)"):
    check_data(config, colour)
  three = Dataset(split((28, 28)), split((28, 28)), split((28, 28)), class_names=("a", "b", "c"))
  with pytest.raises(ConfigError, match=r"config.data.name='mnist': 3 classes, but model "
                     r"'convnet' has 10 outputs"):
    check_data(config, three)
