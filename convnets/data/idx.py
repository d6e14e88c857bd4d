"""Reading IDX files, the format of the MNIST database (LeCun et al.).

An IDX file is a big-endian header, ``0x00 0x00 <dtype code> <ndim>``, then
``ndim`` 32-bit dimension sizes, then the data in row-major order. MNIST's
images are ``magic 2051 = 0x00000803`` (unsigned bytes, 3 dimensions) and its
labels ``magic 2049 = 0x00000801`` (unsigned bytes, 1 dimension).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib

import numpy as np

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


class DataError(ValueError):
  """A data file or directory that cannot be used; the message says how to fix it."""


def read_idx(path: str | os.PathLike, expected_magic: int, sha256: str | None = None
             ) -> np.ndarray:
  """The uint8 array stored in a (gzip-compressed, if named ``.gz``) IDX file.

  Args:
    path: the file.
    expected_magic: ``IMAGES_MAGIC`` or ``LABELS_MAGIC``.
    sha256: if given, the SHA-256 of the decompressed IDX bytes. It covers the
      contents rather than the ``.gz`` file, whose header (name, time stamp)
      differs between copies of the same data.

  Raises:
    DataError: naming the file, when it is truncated or not valid gzip, its
      contents do not have the checksum, it has another magic number, or it
      holds a different number of bytes than its header declares.
  """
  path = os.fspath(path)
  try:
    if path.endswith(".gz"):
      with gzip.open(path, "rb") as f:
        raw = f.read()
    else:
      with open(path, "rb") as f:
        raw = f.read()
  except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
    raise DataError(f"{path}: cannot be read as a gzip-compressed IDX file ({e}); "
                    f"the file is truncated or corrupt: delete it and fetch it again") from None
  if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
    raise DataError(f"{path}: its decompressed contents have SHA-256 "
                    f"{hashlib.sha256(raw).hexdigest()}, expected {sha256}; the file is corrupt "
                    f"or from another data set: delete it and fetch it again (--download)")
  if len(raw) < 8:
    raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header; "
                    f"the file is truncated: delete it and fetch it again")
  magic, = struct.unpack(">i", raw[:4])
  if magic != expected_magic:
    raise DataError(f"{path}: IDX magic number {magic}, expected {expected_magic} "
                    f"({'images' if expected_magic == IMAGES_MAGIC else 'labels'}); "
                    f"this is not the IDX file of that name")
  ndim = raw[3]
  header = 4 + 4 * ndim
  shape = struct.unpack(f">{ndim}I", raw[4:header])
  expected = int(np.prod(shape))
  if len(raw) - header != expected:
    raise DataError(f"{path}: header declares shape {shape} ({expected} bytes of data) but "
                    f"the file holds {len(raw) - header}; the file is truncated or corrupt: "
                    f"delete it and fetch it again")
  return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
