"""Data sets by name: where the files are, fetching them, and the course's splits.

Names (``config.data.name``):

* ``"mnist"`` and ``"fashion_mnist"`` (Xiao, Rasul & Vollgraf 2017, MNIST's
  file layout and sizes with ten kinds of clothing): the four IDX ``.gz``
  files of :data:`IDX_DATASETS`, read by :func:`~convnets.data.idx.read_idx`
  and checked against the SHA-256 of their decompressed contents (the same
  for an upstream download, Debian's package and a re-compressed copy);
* ``"tfds:NAME"``: any image classification data set of tensorflow-datasets
  with fixed-size images, greyscale or colour, from a prepared tfds data
  directory (:mod:`convnets.data.tfds_mnist`). ``source="tfds"`` with an IDX
  name reads tfds's copy of that data set instead of the IDX files.

Where the IDX files are looked for (:func:`candidate_dirs`): ``--data_dir``
alone when given; else the data set's environment variable, then
``$CONVNETS_DATA_DIR/<folder>`` (a data folder holding several data sets),
the per-user cache ``~/.cache/convnets/<name>`` and the data set's system
folders, the first folder holding all four files winning. Each folder is
tried as it is and with the data set's sub-folder names under it.

Splits (the course's, mlpractical's): the first 50,000 training examples
train, the rest validate, and the test examples test. TFDS stores a training
set in its own shuffled order, so its split holds other examples than the
IDX files'.
"""

from __future__ import annotations

import dataclasses
import gzip
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
ENV_VAR = "CONVNETS_DATA_DIR"
TRAIN_SIZE = 50_000
SOURCES = ("idx", "tfds")
TFDS_PREFIX = "tfds:"
DIGITS = tuple(str(d) for d in range(10))


@dataclasses.dataclass(frozen=True)
class IdxDataset:
  """An IDX data set: its files' checksums, mirrors and where copies live.

  Attributes:
    name: the ``config.data.name``.
    title: its name in messages.
    sha256: file name -> SHA-256 of the decompressed IDX contents.
    mirrors: base URLs the ``.gz`` files are downloaded from, in order.
    class_names: one per label, in label order.
    env_var: the environment variable naming its folder.
    folders: sub-folder names it may have under a data folder.
    system_dirs: folders a system package installs it in, looked in last.
  """
  name: str
  title: str
  sha256: dict[str, str]
  mirrors: tuple[str, ...]
  class_names: tuple[str, ...]
  env_var: str
  folders: tuple[str, ...]
  system_dirs: tuple[str, ...] = ()


IDX_DATASETS = {
    "mnist": IdxDataset(
        name="mnist", title="MNIST",
        sha256={
            "train-images-idx3-ubyte.gz":
                "dc7a79e00943878503207674b305962580ba2c92eb5cf8d2812740f66873ef4a",
            "train-labels-idx1-ubyte.gz":
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte.gz":
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte.gz":
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "https://ossci-datasets.s3.amazonaws.com/mnist/"),
        class_names=DIGITS, env_var=ENV_VAR, folders=("mnist",)),
    "fashion_mnist": IdxDataset(
        name="fashion_mnist", title="Fashion-MNIST",
        sha256={
            "train-images-idx3-ubyte.gz":
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte.gz":
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte.gz":
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte.gz":
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                 "data/fashion/",
                 "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                     "Sneaker", "Bag", "Ankle boot"),
        env_var="CONVNETS_FASHION_MNIST_DIR", folders=("fashion_mnist", "fashion-mnist"),
        system_dirs=("/usr/share/datasets/fashion-mnist",)),
}


@dataclasses.dataclass(frozen=True)
class Split:
  """Images ``(N, H, W)`` (greyscale) or ``(N, H, W, C)`` (colour) uint8, 0 =
  background, 255 = ink, and labels ``(N,)`` int32."""
  images: np.ndarray
  labels: np.ndarray

  def __len__(self) -> int:
    return len(self.labels)

  def take(self, n: int) -> "Split":
    """The first ``n`` examples."""
    return Split(self.images[:n], self.labels[:n])


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A data set split for training: ``train`` / ``valid`` / ``test``, its
  ``name`` (``config.data.name``) and ``class_names``, one per label (label
  ``k``'s name is ``class_names[k]``)."""
  train: Split
  valid: Split
  test: Split
  name: str = "mnist"
  class_names: tuple[str, ...] = DIGITS

  @property
  def noun(self) -> str:
    """What one example is called in figures and tables (:func:`noun`)."""
    return noun(self.name)

  @property
  def image_shape(self) -> tuple[int, ...]:
    """One stored image's shape: ``(H, W)`` or ``(H, W, C)``."""
    return tuple(self.train.images.shape[1:])


# The name most of the code base knows the splits by; every data set has them.
MNIST = Dataset


def noun(name: str) -> str:
  """What one example of data set ``name`` is called in figures and tables:
  "digit" for MNIST (its IDX files or tfds's copy), "image" for any other."""
  return "digit" if name.removeprefix(TFDS_PREFIX) == "mnist" else "image"


def resolve(name: str, source: str = "idx") -> tuple[str, str]:
  """``(source, data set)`` for ``config.data.name`` and ``config.data.source``:
  ``tfds:NAME`` is tfds's NAME whatever the source; an IDX name is read from
  its IDX files (``idx``) or from tfds's copy (``tfds``)."""
  if source not in SOURCES:
    raise DataError(f"unknown data source {source!r}; known: {', '.join(SOURCES)}")
  if name.startswith(TFDS_PREFIX) and name[len(TFDS_PREFIX):]:
    return "tfds", name[len(TFDS_PREFIX):]
  if name not in IDX_DATASETS:
    raise DataError(f"config.data.name={name!r}: unknown data set; known: "
                    f"{', '.join(IDX_DATASETS)}, or {TFDS_PREFIX}NAME for a tensorflow-datasets "
                    f"image classification data set (e.g. {TFDS_PREFIX}cifar10)")
  return source, name


def image_shape(name: str, source: str = "idx") -> tuple[int, ...]:
  """The stored image shape ``(H, W)`` or ``(H, W, C)`` data set ``name``
  declares, without reading its examples."""
  source, dataset = resolve(name, source)
  if source == "idx":
    return (28, 28)
  from convnets.data import tfds_mnist

  return tfds_mnist.image_shape(dataset)


def default_cache_dir(name: str = "mnist") -> str:
  """A per-user cache folder: ``$XDG_CACHE_HOME/convnets/<name>`` (``~/.cache``)."""
  root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(root, "convnets", name)


def candidate_dirs(data_dir: str | None, name: str = "mnist") -> list[str]:
  """Where the IDX files of data set ``name`` are looked for, in order."""
  spec = IDX_DATASETS[name]
  with_folders = lambda base: [base] + [os.path.join(base, f) for f in spec.folders]
  if data_dir:
    return with_folders(data_dir)
  dirs = with_folders(os.environ[spec.env_var]) if os.environ.get(spec.env_var) else []
  if spec.env_var != ENV_VAR and os.environ.get(ENV_VAR):
    dirs += [os.path.join(os.environ[ENV_VAR], f) for f in spec.folders]
  return dirs + [default_cache_dir(name), *spec.system_dirs]


def find_files(data_dir: str | None, name: str = "mnist") -> dict[str, str]:
  """Paths of the four IDX files, or a DataError saying where it looked."""
  dirs = candidate_dirs(data_dir, name)
  for d in dirs:
    paths = {key: os.path.join(d, file) for key, file in FILES.items()}
    if all(os.path.isfile(p) for p in paths.values()):
      return paths
  spec = IDX_DATASETS[name]
  flag = f" --config.data.name={name}" if name != "mnist" else ""
  raise DataError(
      f"{spec.title} files not found: looked for {', '.join(FILES.values())} in "
      f"{', '.join(dirs)}. Fix: pass --data_dir=DIR or set {spec.env_var}=DIR to a folder "
      f"holding the four IDX .gz files, or add --download{flag} to fetch them into "
      f"{download_dir(data_dir, name)}, or use --config.data.source=tfds")


def download_dir(data_dir: str | None, name: str) -> str:
  """Where :func:`download` puts the files: ``--data_dir``, else the data
  set's environment variable, else its per-user cache folder."""
  return data_dir or os.environ.get(IDX_DATASETS[name].env_var) or default_cache_dir(name)


def sha256_of(path: str) -> str:
  """The SHA-256 of the decompressed contents of the ``.gz`` file ``path``."""
  digest = hashlib.sha256()
  with gzip.open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
  return digest.hexdigest()


def fetch(url: str, path: str, expected: str) -> None:
  """Download ``url`` to ``path`` through a temporary file, renamed only once
  the checksum of its contents matches, so an interruption leaves no bad file."""
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=os.path.basename(path) + ".")
  try:
    with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as r:
      shutil.copyfileobj(r, out)
    actual = sha256_of(tmp)
    if actual != expected:
      raise DataError(f"SHA-256 {actual} != expected {expected}")
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def download(data_dir: str | None, name: str = "mnist") -> str:
  """Fetch the missing IDX files of ``name`` into :func:`download_dir`, from
  the first mirror that serves each with the right SHA-256; returns the folder."""
  spec = IDX_DATASETS[name]
  target = download_dir(data_dir, name)
  os.makedirs(target, exist_ok=True)
  for file, expected in spec.sha256.items():
    path = os.path.join(target, file)
    if os.path.isfile(path):
      continue
    errors = []
    for mirror in spec.mirrors:
      try:
        fetch(mirror + file, path, expected)
        break
      except Exception as e:  # noqa: BLE001  (try the next mirror; reported below)
        errors.append(f"{mirror}{file}: {e}")
    else:
      raise DataError(f"could not download {file}: {'; '.join(errors)}. Fix: download the "
                      f"four {spec.title} IDX files by hand into {target}, or pass --data_dir")
  return target


def load_idx(data_dir: str | None, name: str = "mnist") -> tuple[Split, Split]:
  """The full training and test sets of IDX data set ``name``, checksums verified."""
  spec = IDX_DATASETS[name]
  paths = find_files(data_dir, name)
  read = lambda key, magic: read_idx(paths[key], magic, spec.sha256[FILES[key]])
  sets = []
  for prefix in ("train", "test"):
    images = read(f"{prefix}_images", IMAGES_MAGIC)
    labels = read(f"{prefix}_labels", LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
      raise DataError(f"{paths[f'{prefix}_images']}: images of shape {images.shape[1:]}, "
                      f"expected 28x28")
    if len(images) != len(labels):
      raise DataError(f"{paths[f'{prefix}_images']} holds {len(images)} images but "
                      f"{paths[f'{prefix}_labels']} holds {len(labels)} labels; "
                      f"one of them is from another data set or damaged")
    if labels.size and labels.max() >= len(spec.class_names):
      raise DataError(f"{paths[f'{prefix}_labels']}: label {labels.max()} is not one of "
                      f"{spec.title}'s {len(spec.class_names)} classes")
    sets.append(Split(images, labels.astype(np.int32)))
  return sets[0], sets[1]


def load_tfds(data_dir: str | None, prepare_missing: bool = False, name: str = "mnist"
              ) -> tuple[Split, Split, tuple[str, ...]]:
  """The full training and test sets and the class names of tfds data set
  ``name``, from a prepared tfds data directory (:mod:`convnets.data.tfds_mnist`)."""
  from convnets.data import tfds_mnist

  splits, class_names = tfds_mnist.read(data_dir, prepare_missing, name=name)
  return Split(*splits["train"]), Split(*splits["test"]), class_names


def load(data_dir: str | None = None, source: str = "idx", download_missing: bool = False,
         train_size: int = TRAIN_SIZE, name: str = "mnist") -> Dataset:
  """Data set ``name`` as the course splits it: train / valid / test.

  Args:
    data_dir: folder of the IDX files (``idx``; None: :func:`candidate_dirs`)
      or tfds data directory (``tfds``; None: tfds's default).
    source: one of ``SOURCES``.
    download_missing: fetch absent IDX files first, or have tfds prepare
      the data set (``--download``).
    train_size: examples kept for training; the rest of the training set validates.
    name: ``config.data.name``: an IDX data set's name or ``tfds:NAME``.
  """
  source, dataset = resolve(name, source)
  if source == "idx":
    if download_missing:
      data_dir = download(data_dir, dataset)
    train, test = load_idx(data_dir, dataset)
    class_names = IDX_DATASETS[dataset].class_names
  else:
    train, test, class_names = load_tfds(data_dir, prepare_missing=download_missing,
                                         name=dataset)
  if not 0 < train_size < len(train):
    raise DataError(f"config.data.train_size={train_size}: must be in 1..{len(train) - 1}, "
                    f"to leave validation examples of the {len(train):,} training examples of "
                    f"{name}")
  return Dataset(train=train.take(train_size),
                 valid=Split(train.images[train_size:], train.labels[train_size:]),
                 test=test, name=name, class_names=tuple(class_names))
