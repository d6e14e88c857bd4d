"""MNIST through tensorflow-datasets: read a prepared data directory, or
prepare one on request, and say in one line what is missing otherwise.

``tfds.data_source`` reads only the ``array_record`` file format, and needs no
TensorFlow to do so; *preparing* MNIST (downloading the IDX files and writing
the records) runs tfds's MNIST builder, which does need TensorFlow. So:

* a data directory holding MNIST in ``array_record``: read, offline;
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

NAME = "mnist"
FORMAT = "array_record"
# Where tfds's MNIST builder downloads from (its _MNIST_URL's host).
DOWNLOAD_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
REACH_TIMEOUT_S = 5.0
USE_IDX = "or use the IDX files (--config.data.source=idx)"


def import_tfds() -> Any:
  """The ``tensorflow_datasets`` module, or a DataError saying how to install it."""
  try:
    import tensorflow_datasets as tfds  # heavy import, only for this source
  except ImportError as e:
    raise DataError(f"--config.data.source=tfds needs tensorflow-datasets ({e}). Fix: pip "
                    f"install -r requirements.txt, {USE_IDX}") from None
  return tfds


def has_tensorflow() -> bool:
  """Whether TensorFlow imports (tfds's MNIST builder needs it to prepare the data)."""
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


def prepare(tfds: Any, data_dir: str) -> None:
  """Download and prepare MNIST in ``array_record`` into ``data_dir`` with
  tfds's builder; a DataError first if TensorFlow or the network is missing."""
  if not has_tensorflow():
    raise DataError(f"preparing MNIST for tfds in {data_dir} needs TensorFlow, which is not "
                    f"installed. Fix: pip install tensorflow (then --download again), or "
                    f"prepare it on a machine with TensorFlow and copy {data_dir}/{NAME}, "
                    f"{USE_IDX}")
  unreachable = reachable(DOWNLOAD_URL)
  if unreachable:
    raise DataError(f"cannot prepare MNIST for tfds: {unreachable}, so tfds cannot download "
                    f"it. Fix: go online, or copy a prepared {NAME}/ folder into {data_dir}, "
                    f"{USE_IDX} with --data_dir pointing at the four IDX .gz files")
  try:
    tfds.builder(NAME, data_dir=data_dir, file_format=FORMAT).download_and_prepare()
  except Exception as e:  # noqa: BLE001  (any failure of tfds's builder, in one line)
    raise DataError(f"tfds could not prepare MNIST in {data_dir}: {type(e).__name__}: "
                    f"{' '.join(str(e).split())}") from None


def prepared_format(tfds: Any, data_dir: str) -> str | None:
  """The file format MNIST is prepared in under ``data_dir``; None if it is not."""
  with quiet_absl():
    builder = tfds.builder(NAME, data_dir=data_dir)
    return builder.info.file_format.value if builder.is_prepared() else None


def check_prepared(tfds: Any, data_dir: str) -> None:
  """A DataError unless ``data_dir`` holds MNIST in ``array_record``."""
  found = prepared_format(tfds, data_dir)
  fix = (f"Fix: add --download --data_dir={data_dir} (tfds prepares it; needs TensorFlow "
         f"and the network), {USE_IDX}")
  if found is None:
    raise DataError(f"MNIST is not prepared for tfds in {data_dir}. {fix}")
  if found != FORMAT:
    raise DataError(f"MNIST in {data_dir}/{NAME} is in the {found} format, but "
                    f"tfds.data_source reads only {FORMAT}. {fix}; a --data_dir other than "
                    f"this one (tfds would not replace the {found} files)")


def read(data_dir: str | None, prepare_missing: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """``{"train": (images, labels), "test": ...}``: images ``(N, 28, 28)``
  uint8, labels ``(N,)`` int32, in tfds's stored order. ``data_dir``: the
  tfds data directory (None: tfds's default, ``$TFDS_DATA_DIR`` or
  ``~/tensorflow_datasets``); ``prepare_missing``: prepare it if needed."""
  tfds = import_tfds()
  data_dir = data_dir or str(tfds.core.constants.DATA_DIR)
  if prepare_missing and prepared_format(tfds, data_dir) is None:
    prepare(tfds, data_dir)
  check_prepared(tfds, data_dir)
  splits = {}
  try:
    for split in ("train", "test"):
      source = tfds.data_source(NAME, split=split, data_dir=data_dir, download=False)
      examples = source.__getitems__(range(len(source)))
      images = np.stack([np.asarray(e["image"]).reshape(28, 28) for e in examples])
      labels = np.asarray([e["label"] for e in examples], dtype=np.int32)
      splits[split] = (images.astype(np.uint8), labels)
  except Exception as e:  # noqa: BLE001  (damaged records and the like, in one line)
    raise DataError(f"tfds could not read MNIST from {data_dir}: {type(e).__name__}: "
                    f"{' '.join(str(e).split())}. Fix: delete {data_dir}/{NAME} and prepare "
                    f"it again (--download), {USE_IDX}") from None
  return splits
