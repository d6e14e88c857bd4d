"""Resampling digit images and deslanting them by their second moments.

Shared by the preprocessors (:mod:`convnets.data.transforms`, ``deslant_*``)
and the random distortions (:mod:`convnets.data.augment`): a geometric
transform is a map from output pixel to input position, and every transform
here ends in one bilinear :func:`resample` of that map, so composed transforms
(an affine distortion of an elastic one) blur the image once, not twice.

Coordinates are ``(row, column)`` = ``(y, x)`` in pixels, row 0 at the top.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy import ndimage


def pixel_grid(h: int, w: int) -> jax.Array:
  """``(2, H, W)`` float32: ``grid[:, i, j] = (i, j)``, every pixel's own position."""
  return jnp.stack(jnp.meshgrid(jnp.arange(h, dtype=jnp.float32),
                                jnp.arange(w, dtype=jnp.float32), indexing="ij"))


def centre(h: int, w: int) -> jax.Array:
  """``(2, 1, 1)``: ``((H - 1) / 2, (W - 1) / 2)``, the point about which an
  ``H x W`` pixel grid is symmetric, broadcastable against a grid."""
  return jnp.array([(h - 1) / 2, (w - 1) / 2], jnp.float32)[:, None, None]


def resample(image: jax.Array, coords: jax.Array) -> jax.Array:
  """Bilinear resampling of one image at arbitrary positions.

  Args:
    image: ``(H, W)`` float.
    coords: ``(2, H', W')``: output pixel ``(i, j)`` takes the input's value at
      ``(coords[0, i, j], coords[1, i, j])``, interpolated from its 4
      neighbours; positions outside the image read 0 (background).

  Returns:
    ``(H', W')``, the dtype of ``image``. At integer ``coords`` the input
    pixels come back exactly.
  """
  return ndimage.map_coordinates(image, [coords[0], coords[1]], order=1, mode="constant",
                                 cval=0.0)


def resample_batch(images: jax.Array, coords: jax.Array) -> jax.Array:
  """:func:`resample` of ``(N, H, W)`` images (or ``(N, H, W, C)``, each
  channel at the same positions) at ``(N, 2, H, W)`` positions, any dtype.

  Integer images are resampled as floats and rounded and clipped back to
  their dtype's range (bilinear weights are convex, so clipping only guards
  against rounding at the extremes).
  """
  one = resample if images.ndim == 3 else jax.vmap(resample, in_axes=(2, None), out_axes=2)
  out = jax.vmap(one)(images.astype(jnp.float32), coords)
  if jnp.issubdtype(images.dtype, jnp.integer):
    info = jnp.iinfo(images.dtype)
    return jnp.clip(jnp.round(out), info.min, info.max).astype(images.dtype)
  return out.astype(images.dtype)


def moments(images: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Centre of mass and second central moments of each image's ink.

  Args:
    images: ``(N, H, W)``, non-negative ink intensities (any scale: the
      moments are normalised by the total ink).

  Returns:
    ``(centre_of_mass (N, 2), mu02 (N,), mu11 (N,))``: the centre of mass as
    ``(row, column)``, the vertical variance ``mu02 = E[(y - cy)^2]`` and the
    covariance ``mu11 = E[(x - cx)(y - cy)]``, expectations under the ink
    distribution ``I / sum(I)``. A blank image gets centre 0 and moments 0.
  """
  images = images.astype(jnp.float32)
  grid = pixel_grid(*images.shape[1:])
  mass = images.sum(axis=(1, 2))
  # A blank image has no centre; dividing by 1 instead keeps it finite.
  weights = images / jnp.where(mass > 0, mass, 1.0)[:, None, None]
  com = jnp.einsum("nhw,chw->nc", weights, grid)
  dy = grid[0] - com[:, 0, None, None]
  dx = grid[1] - com[:, 1, None, None]
  mu02 = (weights * dy * dy).sum(axis=(1, 2))
  mu11 = (weights * dx * dy).sum(axis=(1, 2))
  return com, mu02, mu11


@jax.jit  # one compiled program when called outside a jitted step
def deslant(images: jax.Array) -> jax.Array:
  """Deslant (deskew) digits by their second-order moments (LeCun et al.
  1998, Section III: the "[deslant]" entries of the MNIST table). The paper
  counts each foreground pixel as 1; here grey levels weight the moments.

  Each image is translated so that its centre of mass lands on ``(H/2, W/2)``
  (pixel (14, 14) of a 28x28 image, where MNIST put the centres of mass, so
  an upright MNIST digit moves by less than a pixel) and sheared
  horizontally about it, row ``y`` moving by ``-(mu11 / mu02) (y - cy)``,
  which makes the covariance of the ink's column and row zero: the
  principal axis becomes vertical. In the output, pixel ``p`` reads the
  input at ``com + S (p - (H/2, W/2))`` with the shear
  ``S = [[1, 0], [mu11 / mu02, 1]]`` (``(row, column)`` order), resampled
  bilinearly (:func:`resample`).

  Args:
    images: ``(N, H, W)`` float ink intensities (e.g. pixels in [0, 1]).

  Returns:
    ``(N, H, W)`` float32. An upright digit symmetric about ``(H/2, W/2)``
    comes back unchanged; a blank image stays blank.
  """
  images = images.astype(jnp.float32)
  _, h, w = images.shape
  com, mu02, mu11 = moments(images)
  slope = mu11 / jnp.where(mu02 > 0, mu02, 1.0)                           # (N,)
  target = jnp.array([h / 2, w / 2], jnp.float32)[:, None, None]
  offset = pixel_grid(h, w)[None] - target[None]                          # (1, 2, H, W)
  rows = com[:, 0, None, None] + offset[:, 0]
  cols = com[:, 1, None, None] + offset[:, 1] + slope[:, None, None] * offset[:, 0]
  return resample_batch(images, jnp.stack([rows, cols], axis=1))
