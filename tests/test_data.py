"""MNIST loading: the course's splits, IDX validation, device batching (TFDS:
``test_tfds.py``; Fashion-MNIST and data sets by name: ``test_datasets.py``)."""

from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from convnets.data import DataError, load, read_idx
from convnets.data import mnist as mnist_lib
from convnets.data.device import batch_at, epoch_permutation, to_device
from convnets.data.idx import IMAGES_MAGIC, LABELS_MAGIC


def write_idx(path, magic: int, array: np.ndarray) -> None:
  header = struct.pack(">i", magic) + struct.pack(f">{array.ndim}I", *array.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


def fake_mnist_dir(root, n_train=12, n_test=4, seed=0):
  """Four random IDX files in ``root``; their arrays by ``FILES`` key."""
  rng = np.random.default_rng(seed)
  arrays = {
      "train_images": (IMAGES_MAGIC, rng.integers(0, 256, (n_train, 28, 28))),
      "train_labels": (LABELS_MAGIC, rng.integers(0, 10, (n_train,))),
      "test_images": (IMAGES_MAGIC, rng.integers(0, 256, (n_test, 28, 28))),
      "test_labels": (LABELS_MAGIC, rng.integers(0, 10, (n_test,))),
  }
  os.makedirs(root, exist_ok=True)
  for key, (magic, array) in arrays.items():
    write_idx(os.path.join(root, mnist_lib.FILES[key]), magic, array)
  return {k: a for k, (_, a) in arrays.items()}


def trust(monkeypatch, root, name: str = "mnist") -> None:
  """Make the library expect the checksums of the files in ``root`` for ``name``."""
  sums = {file: mnist_lib.sha256_of(os.path.join(root, file)) for file in mnist_lib.FILES.values()}
  spec = dataclasses.replace(mnist_lib.IDX_DATASETS[name], sha256=sums)
  monkeypatch.setitem(mnist_lib.IDX_DATASETS, name, spec)


@pytest.fixture
def fake_dir(monkeypatch):
  """``make(root, **kwargs)``: :func:`fake_mnist_dir` with its checksums trusted."""
  def make(root, **kwargs):
    arrays = fake_mnist_dir(root, **kwargs)
    trust(monkeypatch, root)
    return arrays
  return make


def test_course_split_of_real_mnist(mnist):
  assert (len(mnist.train), len(mnist.valid), len(mnist.test)) == (50_000, 10_000, 10_000)
  assert mnist.train.images.shape == (50_000, 28, 28) and mnist.train.images.dtype == np.uint8
  # The README of the data: train mean pixel 33.33 over all 60k, test 33.79.
  all_train = np.concatenate([mnist.train.images, mnist.valid.images])
  assert all_train.mean() == pytest.approx(33.33, abs=0.01)
  assert mnist.test.images.mean() == pytest.approx(33.79, abs=0.01)
  # The original order: the first training labels are 5 0 4 1 9 2 1 3 1 4.
  np.testing.assert_array_equal(mnist.train.labels[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
  assert sorted(np.unique(mnist.valid.labels)) == list(range(10))


def test_split_keeps_order_and_sizes(tmp_path, fake_dir):
  arrays = fake_dir(tmp_path / "mnist")
  data = load(str(tmp_path), train_size=9)  # found in the mnist/ subfolder
  np.testing.assert_array_equal(data.train.images, arrays["train_images"][:9])
  np.testing.assert_array_equal(data.valid.labels, arrays["train_labels"][9:])
  np.testing.assert_array_equal(data.test.images, arrays["test_images"])


def test_env_var_names_the_data_dir(tmp_path, monkeypatch, fake_dir):
  fake_dir(tmp_path)
  monkeypatch.setenv("CONVNETS_DATA_DIR", str(tmp_path))
  assert len(load(train_size=10).valid) == 2


def test_missing_files_say_where_and_how_to_fix(tmp_path):
  with pytest.raises(DataError) as e:
    load(str(tmp_path / "nowhere"))
  message = str(e.value)
  assert str(tmp_path / "nowhere") in message and "--data_dir" in message
  assert "--download" in message and "CONVNETS_DATA_DIR" in message


def test_truncated_file_is_named(tmp_path, fake_dir):
  fake_dir(tmp_path)
  path = tmp_path / mnist_lib.FILES["train_images"]
  raw = path.read_bytes()
  path.write_bytes(raw[: len(raw) // 2])
  with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*truncated or corrupt"):
    load(str(tmp_path), train_size=10)


def test_wrong_magic_is_named(tmp_path, monkeypatch, fake_dir):
  fake_dir(tmp_path)
  labels = tmp_path / mnist_lib.FILES["test_labels"]
  shutil.copy(tmp_path / mnist_lib.FILES["test_images"], labels)
  trust(monkeypatch, tmp_path)  # past the checksum, to the header check
  with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: IDX magic number 2051, "
                     "expected 2049"):
    load(str(tmp_path), train_size=10)


def test_short_payload_is_caught(tmp_path):
  path = tmp_path / "x.gz"
  with gzip.open(path, "wb") as f:
    f.write(struct.pack(">iIII", IMAGES_MAGIC, 3, 28, 28) + bytes(28 * 28 * 2))
  with pytest.raises(DataError, match="declares shape \\(3, 28, 28\\)"):
    read_idx(path, IMAGES_MAGIC)


def test_image_label_count_mismatch_is_named(tmp_path, monkeypatch, fake_dir):
  fake_dir(tmp_path)
  write_idx(tmp_path / mnist_lib.FILES["test_labels"], LABELS_MAGIC, np.zeros(3))
  trust(monkeypatch, tmp_path)
  with pytest.raises(DataError, match="holds 4 images but .*t10k-labels.* holds 3 labels"):
    load(str(tmp_path), train_size=10)


def test_checksums_are_verified_before_a_file_is_kept(tmp_path, monkeypatch):
  """A download whose bytes do not match the SHA-256 leaves no file behind."""
  served = tmp_path / "served"
  fake_mnist_dir(served)
  spec = dataclasses.replace(mnist_lib.IDX_DATASETS["mnist"], mirrors=(served.as_uri() + "/",))
  monkeypatch.setitem(mnist_lib.IDX_DATASETS, "mnist", spec)
  target = tmp_path / "target"
  with pytest.raises(DataError, match="could not download .*SHA-256"):
    mnist_lib.download(str(target))
  assert not [p for p in os.listdir(target) if not p.startswith(".")]
  # With the served files' own checksums, the same download succeeds.
  trust(monkeypatch, served)
  mnist_lib.download(str(target))
  assert len(load(str(target), train_size=10).train) == 10


def test_unknown_source_is_an_error():
  with pytest.raises(DataError, match="unknown data source 'csv'"):
    load(source="csv")


def test_device_batches_follow_the_permutation(tmp_path, fake_dir):
  arrays = fake_dir(tmp_path, n_train=12)
  split = load(str(tmp_path), train_size=11).train
  device = to_device(split, multiple=4)
  assert device.images.shape[0] == 12 and float(device.weights.sum()) == 11
  order = epoch_permutation(jax.random.key(3), 11)
  assert sorted(np.asarray(order).tolist()) == list(range(11))
  images, labels = batch_at(device, order, jnp.int32(1), 5)
  rows = np.asarray(order)[5:10]
  np.testing.assert_array_equal(images, arrays["train_images"][rows])
  np.testing.assert_array_equal(labels, arrays["train_labels"][rows])
