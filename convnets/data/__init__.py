"""Data: MNIST sources (IDX files, TFDS), the course splits, and on-device batching."""

from convnets.data.idx import DataError, read_idx
from convnets.data.mnist import MNIST, SOURCES, Split, load

__all__ = ["DataError", "MNIST", "SOURCES", "Split", "load", "read_idx"]
