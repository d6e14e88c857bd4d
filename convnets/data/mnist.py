"""MNIST: where the files are, fetching them, and the course's splits.

Splits (the course's, mlpractical's): the first 50,000 training examples
train, the last 10,000 validate, and the 10,000 test examples test.

Sources:
* ``"idx"``: the four original IDX ``.gz`` files in a data directory: the
  ``--data_dir`` flag, else ``$CONVNETS_DATA_DIR``, else a per-user cache
  folder; the files directly in it or in a ``mnist/`` folder under it.
* ``"tfds"``: ``tensorflow_datasets.data_source("mnist")`` on a tfds data
  directory where MNIST is prepared in ``array_record`` (reading needs no
  TensorFlow; preparing, with ``--download``, does: see
  :mod:`convnets.data.tfds_mnist`). TFDS stores the training set in its own
  shuffled order, so its 50k/10k split holds other examples than ``idx``'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
import urllib.request

import numpy as np

from convnets.data.idx import IMAGES_MAGIC, LABELS_MAGIC, DataError, read_idx

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# SHA-256 of the original files (as tensorflow-datasets records them).
SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
ENV_VAR = "CONVNETS_DATA_DIR"
TRAIN_SIZE = 50_000
SOURCES = ("idx", "tfds")


@dataclasses.dataclass(frozen=True)
class Split:
  """Images ``(N, 28, 28)`` uint8 (0 = background, 255 = ink) and labels ``(N,)`` int32."""
  images: np.ndarray
  labels: np.ndarray

  def __len__(self) -> int:
    return len(self.labels)

  def take(self, n: int) -> "Split":
    """The first ``n`` examples."""
    return Split(self.images[:n], self.labels[:n])


@dataclasses.dataclass(frozen=True)
class MNIST:
  train: Split
  valid: Split
  test: Split


def default_cache_dir() -> str:
  """A per-user cache folder: ``$XDG_CACHE_HOME/convnets/mnist`` (``~/.cache``)."""
  root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(root, "convnets", "mnist")


def candidate_dirs(data_dir: str | None) -> list[str]:
  """Where the IDX files are looked for, in order."""
  base = data_dir or os.environ.get(ENV_VAR) or default_cache_dir()
  return [base, os.path.join(base, "mnist")]


def find_files(data_dir: str | None) -> dict[str, str]:
  """Paths of the four IDX files, or a DataError saying where it looked."""
  dirs = candidate_dirs(data_dir)
  for d in dirs:
    paths = {key: os.path.join(d, name) for key, name in FILES.items()}
    if all(os.path.isfile(p) for p in paths.values()):
      return paths
  origin = ("--data_dir" if data_dir else
            f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "the default cache")
  raise DataError(
      f"MNIST files not found: looked for {', '.join(FILES.values())} in "
      f"{' and '.join(dirs)} (from {origin}). Fix: pass --data_dir=DIR or set {ENV_VAR}=DIR "
      f"to a folder holding the four IDX .gz files, or add --download to fetch them into "
      f"{dirs[0]}, or use --config.data.source=tfds")


def sha256_of(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
  return digest.hexdigest()


def download(data_dir: str | None) -> str:
  """Fetch the missing IDX files into the data directory, verifying SHA-256.

  Each file is written under a temporary name and renamed only once its
  checksum matches, so an interrupted download never leaves a bad file.
  Returns the directory.
  """
  target = candidate_dirs(data_dir)[0]
  os.makedirs(target, exist_ok=True)
  for name, expected in SHA256.items():
    path = os.path.join(target, name)
    if os.path.isfile(path):
      continue
    errors = []
    for mirror in MIRRORS:
      fd, tmp = tempfile.mkstemp(dir=target, prefix=name + ".")
      try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(mirror + name, timeout=60) as r:
          shutil.copyfileobj(r, out)
        actual = sha256_of(tmp)
        if actual != expected:
          raise DataError(f"SHA-256 {actual} != expected {expected}")
        os.replace(tmp, path)
        break
      except Exception as e:  # noqa: BLE001  (try the next mirror; reported below)
        errors.append(f"{mirror}{name}: {e}")
        if os.path.exists(tmp):
          os.remove(tmp)
    else:
      raise DataError(f"could not download {name}: {'; '.join(errors)}. Fix: download the "
                      f"four MNIST IDX files by hand into {target}, or pass --data_dir")
  return target


def load_idx(data_dir: str | None) -> tuple[Split, Split]:
  """The full training (60,000) and test (10,000) sets from IDX files."""
  paths = find_files(data_dir)
  sets = []
  for prefix in ("train", "test"):
    images = read_idx(paths[f"{prefix}_images"], IMAGES_MAGIC)
    labels = read_idx(paths[f"{prefix}_labels"], LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
      raise DataError(f"{paths[f'{prefix}_images']}: images of shape {images.shape[1:]}, "
                      f"expected 28x28")
    if len(images) != len(labels):
      raise DataError(f"{paths[f'{prefix}_images']} holds {len(images)} images but "
                      f"{paths[f'{prefix}_labels']} holds {len(labels)} labels; "
                      f"one of them is from another data set or damaged")
    if labels.size and labels.max() > 9:
      raise DataError(f"{paths[f'{prefix}_labels']}: label {labels.max()} is not a digit")
    sets.append(Split(images, labels.astype(np.int32)))
  return sets[0], sets[1]


def load_tfds(data_dir: str | None, prepare_missing: bool = False) -> tuple[Split, Split]:
  """The full training and test sets through ``tfds.data_source``, from a
  prepared tfds data directory (:mod:`convnets.data.tfds_mnist`)."""
  from convnets.data import tfds_mnist

  splits = tfds_mnist.read(data_dir, prepare_missing)
  return Split(*splits["train"]), Split(*splits["test"])


def load(data_dir: str | None = None, source: str = "idx", download_missing: bool = False,
         train_size: int = TRAIN_SIZE) -> MNIST:
  """MNIST as the course splits it: train / valid / test.

  Args:
    data_dir: folder of the IDX files (``idx``; None: :func:`candidate_dirs`)
      or tfds data directory (``tfds``; None: tfds's default).
    source: one of ``SOURCES``.
    download_missing: fetch absent IDX files first, or have tfds prepare
      MNIST (``--download``).
    train_size: examples kept for training; the rest of the 60,000 validate.
  """
  if source not in SOURCES:
    raise DataError(f"unknown data source {source!r}; known: {', '.join(SOURCES)}")
  if source == "idx":
    if download_missing:
      data_dir = download(data_dir)
    train, test = load_idx(data_dir)
  else:
    train, test = load_tfds(data_dir, prepare_missing=download_missing)
  if not 0 < train_size < len(train):
    raise DataError(f"train_size must be in 1..{len(train) - 1}, got {train_size}")
  return MNIST(train=train.take(train_size),
               valid=Split(train.images[train_size:], train.labels[train_size:]),
               test=test)
