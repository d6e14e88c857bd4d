"""Data: data sets by name (IDX files, TFDS), the course splits, and on-device batching."""

from convnets.data.idx import DataError, read_idx
from convnets.data.mnist import MNIST, SOURCES, Dataset, Split, image_shape, load, resolve

__all__ = ["DataError", "Dataset", "MNIST", "SOURCES", "Split", "image_shape", "load",
           "read_idx", "resolve"]
