"""Pictures of digits (or any data set's images, labelled with its class
names) as the networks see them: originals beside their deslanted,
affine-distorted and elastically distorted versions (PNG through matplotlib,
no display needed)."""

from __future__ import annotations

from typing import Sequence

import jax
import matplotlib
import numpy as np
from ml_collections import ConfigDict

from convnets.data import augment, geometry

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def save_gallery(images_rows: Sequence[tuple[str, np.ndarray]], labels: Sequence[int],
                 path: str, title: str | None = None,
                 class_names: Sequence[str] | None = None) -> None:
  """A grid of images, one row per version, one column per example.

  Args:
    images_rows: ``(row title, images (K, H, W) or (K, H, W, 3))`` pairs, all
      with the same ``K`` examples in the same order; uint8 or float, ink
      bright. A greyscale image is shown on its own grey scale (black = its
      minimum), a colour one as it is (uint8, or float in [0, 1]).
    labels: ``(K,)`` the examples' labels, written above the first row.
    path: the PNG to write.
    title: a figure title, if any.
    class_names: label ``k``'s name is ``class_names[k]`` (a data set's
      ``class_names``); None: the label's number.
  """
  count = len(labels)
  if any(len(images) != count for _, images in images_rows):
    raise ValueError(f"every row needs {count} images (one per label), got "
                     f"{[len(images) for _, images in images_rows]}")
  name_of = (lambda label: str(label)) if class_names is None else class_names.__getitem__
  fig, axes = plt.subplots(len(images_rows), count, squeeze=False,
                           figsize=(0.9 * count + 1.2, 0.95 * len(images_rows) + 0.4))
  for r, (name, images) in enumerate(images_rows):
    for k in range(count):
      ax = axes[r, k]
      image = np.asarray(images[k])
      ax.imshow(image if image.ndim == 3 else image.astype(np.float32), cmap="gray",
                interpolation="nearest")
      ax.set_xticks([])
      ax.set_yticks([])
      if r == 0:
        ax.set_title(name_of(int(labels[k])), fontsize=9 if class_names is None else 7)
    axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def distortion_rows(key: jax.Array, images: np.ndarray, config: ConfigDict
                    ) -> list[tuple[str, np.ndarray]]:
  """The rows of the usual gallery for ``(K, 28, 28)`` uint8 digits: original,
  deslanted, affine (``config.augment.affine``), elastic (``config.augment.elastic``)
  and both, the distortions drawn from ``key``."""
  affine = augment.affine_ranges(config.augment.affine)
  elastic = augment.elastic_params(config.augment.elastic)
  k_affine, k_elastic, k_both = jax.random.split(key, 3)
  return [
      ("original", images),
      ("deslanted", np.asarray(geometry.deslant(images))),
      ("affine", np.asarray(augment.distort(k_affine, images, affine=affine, elastic=None))),
      ("elastic", np.asarray(augment.distort(k_elastic, images, affine=None, elastic=elastic))),
      ("affine+elastic", np.asarray(augment.distort(k_both, images, affine=affine,
                                                    elastic=elastic))),
  ]
