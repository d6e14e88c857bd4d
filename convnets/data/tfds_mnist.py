"""Image classification data sets through tensorflow-datasets (MNIST, or any
other by name, greyscale or colour): read a prepared data directory, or
prepare one on request, and say in one line what is missing otherwise.

``tfds.data_source`` reads only the ``array_record`` file format, and needs no
TensorFlow to do so; *preparing* a data set (downloading its files and writing
the records) runs tfds's builder, which does need TensorFlow. So:

* a data directory holding the data set in ``array_record``: read, offline;
* ``prepare=True`` (``--download``): with TensorFlow installed and the
  download host reachable (checked once, in seconds), prepare, then read;
* anything else (no tfds, no TensorFlow, offline, nothing prepared, or
  ``tfrecord`` files only): a :class:`~convnets.data.idx.DataError` naming
  what is missing and the fix, before any download is tried.
"""

from __future__ import annotations

import contextlib
import socket
import urllib.parse
from typing import Any, Iterator

import numpy as np
from absl import logging

from convnets.data.idx import DataError

FORMAT = "array_record"
# Where tfds's MNIST builder downloads from (its _MNIST_URL's host): a probe of
# the network before a builder that would retry for minutes.
DOWNLOAD_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
REACH_TIMEOUT_S = 5.0
USE_IDX = ("or use the IDX files of mnist or fashion_mnist (--config.data.source=idx, "
           "--config.data.name=NAME)")


def import_tfds() -> Any:
  """The ``tensorflow_datasets`` module, or a DataError saying how to install it."""
  try:
    import tensorflow_datasets as tfds  # heavy import, only for this source
  except ImportError as e:
    raise DataError(f"--config.data.source=tfds needs tensorflow-datasets ({e}). Fix: pip "
                    f"install -r requirements.txt, {USE_IDX}") from None
  return tfds


def has_tensorflow() -> bool:
  """Whether TensorFlow imports (tfds's builders need it to prepare the data)."""
  try:
    import tensorflow  # noqa: F401
  except ImportError:
    return False
  return True


def reachable(url: str, timeout: float = REACH_TIMEOUT_S) -> str | None:
  """None if a TCP connection to ``url``'s host opens within ``timeout``
  seconds, else why not (one try, no retries)."""
  parts = urllib.parse.urlsplit(url)
  try:
    with socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout):
      return None
  except OSError as e:
    return f"{parts.hostname} is not reachable ({e.strerror or type(e).__name__})"


@contextlib.contextmanager
def quiet_absl() -> Iterator[None]:
  """absl warnings off (tfds warns while it probes a data directory)."""
  old = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)
  try:
    yield
  finally:
    logging.set_verbosity(old)


def builder(tfds: Any, name: str, data_dir: str | None = None) -> Any:
  """tfds's builder of ``name`` (its metadata from ``data_dir`` where it is
  prepared there, else from tfds's code), or a DataError for an unknown name."""
  try:
    with quiet_absl():
      return tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    raise DataError(f"config.data.name=tfds:{name}: tensorflow-datasets has no data set "
                    f"{name!r}. Fix: a name from tfds.list_builders(), e.g. tfds:cifar10, "
                    f"{USE_IDX}") from None


def keys(tfds: Any, info: Any, name: str) -> tuple[str, str]:
  """The ``(image, label)`` feature names of a classification data set: its
  supervised keys, checked to be a fixed-size image and a class label."""
  supervised = info.supervised_keys or ("image", "label")
  image_key, label_key = supervised[0], supervised[1]
  features = info.features
  if (image_key not in features or label_key not in features
      or not isinstance(features[label_key], tfds.features.ClassLabel) or not hasattr(
          features[image_key], "shape") or len(features[image_key].shape) != 3):
    raise DataError(f"tfds:{name} is not an image classification data set (features "
                    f"{', '.join(features)}; supervised keys {info.supervised_keys}). Fix: a "
                    f"data set of (image, class label) pairs, e.g. tfds:cifar10")
  if None in features[image_key].shape:
    raise DataError(f"tfds:{name} has images of varying size {features[image_key].shape}; "
                    f"the models take images of one size. Fix: a data set of fixed-size "
                    f"images, e.g. tfds:cifar10")
  return image_key, label_key


def stored_shape(tfds: Any, info: Any, name: str) -> tuple[int, ...]:
  """The image shape a data set's features declare, as it is stored here:
  ``(H, W)`` for greyscale (the IDX files' layout), ``(H, W, C)`` for colour."""
  h, w, c = info.features[keys(tfds, info, name)[0]].shape
  return (h, w) if c == 1 else (h, w, c)


def image_shape(name: str) -> tuple[int, ...]:
  """Data set ``name``'s :func:`stored_shape`, from tfds's code (no data read)."""
  tfds = import_tfds()
  return stored_shape(tfds, builder(tfds, name).info, name)


def prepare(tfds: Any, name: str, data_dir: str) -> None:
  """Download and prepare ``name`` in ``array_record`` into ``data_dir`` with
  tfds's builder; a DataError first if TensorFlow or the network is missing."""
  if not has_tensorflow():
    raise DataError(f"preparing {name} for tfds in {data_dir} needs TensorFlow, which is not "
                    f"installed. Fix: pip install tensorflow (then --download again), or "
                    f"prepare it on a machine with TensorFlow and copy {data_dir}/{name}, "
                    f"{USE_IDX}")
  unreachable = reachable(DOWNLOAD_URL)
  if unreachable:
    raise DataError(f"cannot prepare {name} for tfds: {unreachable}, so tfds cannot download "
                    f"it. Fix: go online, or copy a prepared {name}/ folder into {data_dir}, "
                    f"{USE_IDX} with --data_dir pointing at the four IDX .gz files")
  try:
    tfds.builder(name, data_dir=data_dir, file_format=FORMAT).download_and_prepare()
  except Exception as e:  # noqa: BLE001  (any failure of tfds's builder, in one line)
    raise DataError(f"tfds could not prepare {name} in {data_dir}: {type(e).__name__}: "
                    f"{' '.join(str(e).split())}") from None


def prepared_format(tfds: Any, name: str, data_dir: str) -> str | None:
  """The file format ``name`` is prepared in under ``data_dir``; None if it is not."""
  found = builder(tfds, name, data_dir)
  with quiet_absl():
    return found.info.file_format.value if found.is_prepared() else None


def check_prepared(tfds: Any, name: str, data_dir: str) -> None:
  """A DataError unless ``data_dir`` holds ``name`` in ``array_record``."""
  found = prepared_format(tfds, name, data_dir)
  fix = (f"Fix: add --download --data_dir={data_dir} (tfds prepares it; needs TensorFlow "
         f"and the network), {USE_IDX}")
  title = display_name(name)
  if found is None:
    raise DataError(f"{title} is not prepared for tfds in {data_dir}. {fix}")
  if found != FORMAT:
    raise DataError(f"{title} in {data_dir}/{name} is in the {found} format, but "
                    f"tfds.data_source reads only {FORMAT}. {fix}; a --data_dir other than "
                    f"this one (tfds would not replace the {found} files)")


def display_name(name: str) -> str:
  """The data set's name in messages."""
  return "MNIST" if name == "mnist" else name


def one_line(e: Exception) -> str:
  return f"{type(e).__name__}: {' '.join(str(e).split())}"


def read(data_dir: str | None, prepare_missing: bool, name: str = "mnist"
         ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple[str, ...]]:
  """``({"train": (images, labels), "test": ...}, class names)``: images
  ``(N, H, W)`` (greyscale) or ``(N, H, W, C)`` (colour) uint8, labels
  ``(N,)`` int32, in tfds's stored order; the class names from the label
  feature. ``data_dir``: the tfds data directory (None: tfds's default,
  ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``); ``prepare_missing``:
  prepare it if needed."""
  tfds = import_tfds()
  data_dir = data_dir or str(tfds.core.constants.DATA_DIR)
  if prepare_missing and prepared_format(tfds, name, data_dir) is None:
    prepare(tfds, name, data_dir)
  info = builder(tfds, name, data_dir).info
  image_key, label_key = keys(tfds, info, name)
  title = display_name(name)
  try:
    with quiet_absl():
      sources = {split: tfds.data_source(name, split=split, data_dir=data_dir, download=False)
                 for split in ("train", "test")}
  except Exception as e:  # noqa: BLE001  (diagnosed below, in one line)
    check_prepared(tfds, name, data_dir)
    raise DataError(f"tfds could not open {title} in {data_dir}: {one_line(e)}. Fix: a data set "
                    f"with train and test splits, {USE_IDX}") from None
  shape = stored_shape(tfds, info, name)
  splits = {}
  try:
    for split, source in sources.items():
      examples = [source[i] for i in range(len(source))]
      images = np.stack([np.asarray(e[image_key]).reshape(shape) for e in examples])
      labels = np.asarray([e[label_key] for e in examples], dtype=np.int32)
      splits[split] = (images.astype(np.uint8), labels)
  except Exception as e:  # noqa: BLE001  (damaged records and the like, in one line)
    raise DataError(f"tfds could not read {title} from {data_dir}: {one_line(e)}. Fix: delete "
                    f"{data_dir}/{name} and prepare it again (--download), {USE_IDX}") from None
  return splits, tuple(info.features[label_key].names)
