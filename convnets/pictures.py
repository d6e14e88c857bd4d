"""Pictures of what a trained network computes (MLP Lecture 7): its first
layer's kernels and feature maps, its confusion matrix and the test digits it
gets wrong, as PNGs in the project's style (:mod:`convnets.style`).

Arrays follow the NHWC convention of :mod:`convnets.ops`: a first layer's
kernels are ``(kh, kw, maps)`` (HWIO with the single input channel dropped), its
feature maps of one digit ``(H', W', maps)``.
"""

from __future__ import annotations

from typing import Any, Sequence

import matplotlib
import numpy as np

from convnets import style

CLASSES = 10
DIGITS = [str(d) for d in range(CLASSES)]


def greyscale(images: np.ndarray) -> np.ndarray:
  """``(N, H, W)`` images from ``(N, H, W)`` or ``(N, H, W, C)`` ones: colour
  images as the mean of their channels, so one colour scale fits every tile."""
  images = np.asarray(images)
  return images.mean(axis=-1) if images.ndim == 4 else images
# A gallery of misclassified digits shows at most this many (the first ones in test order).
GALLERY_MAX = 40
GALLERY_COLS = 10
MAP_COLS = 10


def _grid(count: int, cols: int) -> tuple[int, int]:
  return style.grid_shape(count, max_cols=cols)


def _scale(arrays: Sequence[np.ndarray]) -> float:
  """One symmetric colour limit over every array (1 when all are zero)."""
  return max((float(np.abs(a).max()) for a in arrays if a.size), default=0.0) or 1.0


def _check_maps(sets: Sequence[tuple[str, np.ndarray]], what: str) -> None:
  if not sets:
    raise ValueError(f"{what}: no sets to draw")
  for name, array in sets:
    if np.ndim(array) != 3:
      raise ValueError(f"{what}: set {name!r} must be (height, width, maps), got shape "
                       f"{np.shape(array)}")


def montage(maps: np.ndarray, *, cols: int, gap: int = 1) -> np.ndarray:
  """``(H, W, maps)`` tiled row by row into one ``(rows * (H + gap) - gap,
  cols * (W + gap) - gap)`` image, NaN between and after the tiles (drawn
  blank), so a whole set is one image: far cheaper to draw than an axes per map."""
  h, w, n = maps.shape
  rows = -(-n // cols)
  out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
  for j in range(n):
    r, c = divmod(j, cols)
    out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = maps[:, :, j]
  return out


def _draw_sets(fig: Any, axes: Sequence[Any], sets: Sequence[tuple[str, np.ndarray]],
               cols: int, scale: float, what: str) -> Any:
  """Each set as one montage in its axes, on the shared symmetric scale."""
  cmap = matplotlib.colormaps[style.DIVERGING].with_extremes(bad="white")
  for ax, (caption, maps) in zip(axes, sets):
    shown = ax.imshow(montage(maps, cols=cols), cmap=cmap, vmin=-scale, vmax=scale,
                      interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"{caption} ({maps.shape[-1]} maps, {maps.shape[0]}x{maps.shape[1]})",
                 loc="left")
  bar = fig.colorbar(shown, ax=list(axes), fraction=0.03, pad=0.02)
  bar.set_label(f"{what} (one scale for every set)")
  return bar


def draw_kernels(*, sets: Sequence[tuple[str, np.ndarray]], path: str, title: str) -> None:
  """Kernels as small images, one block per set, on ONE shared symmetric
  colour scale with a colour bar, so that learned kernels compare directly
  with hand-designed ones (the lecture's identity, edge and sharpen kernels).

  Args:
    sets: ``(caption, kernels)`` pairs, ``kernels`` ``(kh, kw, maps)``; sets may
      differ in size and number of maps.
    path: the PNG to write.
    title: the figure's title.
  """
  _check_maps(sets, "draw_kernels")
  cols = min(MAP_COLS, max(k.shape[-1] for _, k in sets))
  heights = [_grid(k.shape[-1], cols)[0] for _, k in sets]
  fig, axes = style.figure(rows=len(sets), width=0.7 * cols + 1.8,
                           height=0.75 * sum(heights) + 0.6 * len(sets) + 0.5,
                           gridspec_kw={"height_ratios": heights})
  _draw_sets(fig, axes[:, 0], sets, cols, _scale([k for _, k in sets]), "weight")
  fig.suptitle(title)
  style.save(fig, path)


def draw_feature_maps(*, image: np.ndarray, sets: Sequence[tuple[str, np.ndarray]], path: str,
                      title: str) -> None:
  """One digit and its feature maps through each named first layer.

  Args:
    image: ``(H, W)`` the input digit (ink bright).
    sets: ``(caption, maps)`` pairs, ``maps`` ``(H', W', maps)`` the layer's
      output for ``image`` (before or after its transfer function, as the
      caption says). All sets share one symmetric colour scale.
    path: the PNG to write.
    title: the figure's title.
  """
  _check_maps(sets, "draw_feature_maps")
  if np.ndim(image) != 2:
    raise ValueError(f"draw_feature_maps: image must be (height, width), got {np.shape(image)}")
  cols = min(MAP_COLS, max(m.shape[-1] for _, m in sets))
  heights = [_grid(m.shape[-1], cols)[0] for _, m in sets]
  fig, axes = style.figure(rows=len(sets), cols=2, width=0.9 * cols + 3.4,
                           height=0.9 * sum(heights) + 0.6 * len(sets) + 0.5,
                           gridspec_kw={"height_ratios": heights, "width_ratios": [0.16, 1]})
  axes[0, 0].imshow(image, cmap="gray", interpolation="nearest")
  axes[0, 0].set_title("input", loc="left")
  for ax in axes[:, 0]:
    ax.set_axis_off()
  _draw_sets(fig, axes[:, 1], sets, cols, _scale([m for _, m in sets]), "activation")
  fig.suptitle(title)
  style.save(fig, path)


def confusion_counts(*, labels: np.ndarray, predictions: np.ndarray,
                     classes: int = CLASSES) -> np.ndarray:
  """``(classes, classes)`` counts: row the true digit, column the predicted one."""
  labels, predictions = np.asarray(labels), np.asarray(predictions)
  if labels.shape != predictions.shape:
    raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ in shape")
  counts = np.zeros((classes, classes), dtype=np.int64)
  np.add.at(counts, (labels, predictions), 1)
  return counts


def draw_confusion(*, labels: np.ndarray, predictions: np.ndarray, path: str, title: str,
                   class_names: Sequence[str] | None = None) -> np.ndarray:
  """The confusion matrix of ``(N,)`` true labels against ``(N,)`` predictions,
  each cell's count written in it; the diagonal (right) is kept out of the
  colour scale so that the errors, which are few, stay visible. Rows and
  columns are named by ``class_names`` (default: the digits). Returns the
  counts."""
  classes = len(class_names) if class_names is not None else CLASSES
  counts = confusion_counts(labels=labels, predictions=predictions, classes=classes)
  errors = counts.astype(float)
  np.fill_diagonal(errors, np.nan)
  fig, axes = style.figure(width=6.4, height=5.4)
  ax = axes[0, 0]
  shown = ax.imshow(errors, cmap="Oranges", vmin=0, vmax=max(1.0, np.nanmax(errors)))
  for (t, p), count in np.ndenumerate(counts):
    if count:
      ax.text(p, t, str(count), ha="center", va="center", fontsize=7,
              weight="bold" if t == p else "normal")
  ax.set_xticks(range(classes))
  ax.set_yticks(range(classes))
  if class_names is not None:
    ax.set_xticklabels(class_names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticklabels(class_names)
  ax.grid(False)
  what = "digit" if class_names is None or list(class_names) == DIGITS else "class"
  ax.set(xlabel=f"predicted {what}", ylabel=f"true {what}")
  wrong = int(counts.sum() - np.trace(counts))
  ax.set_title(f"{wrong} of {int(counts.sum())} test images wrong; diagonal: correct")
  bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
  bar.set_label("misclassified images")
  bar.ax.yaxis.get_major_locator().set_params(integer=True)
  fig.suptitle(title)
  style.save(fig, path)
  return counts


def misclassified(*, labels: np.ndarray, predictions: np.ndarray,
                  limit: int = GALLERY_MAX) -> np.ndarray:
  """Indices of the first ``limit`` misclassified examples, in test order."""
  return np.flatnonzero(np.asarray(labels) != np.asarray(predictions))[:limit]


def draw_misclassified(*, images: np.ndarray, labels: np.ndarray, predictions: np.ndarray,
                       path: str, title: str, limit: int = GALLERY_MAX,
                       class_names: Sequence[str] | None = None) -> np.ndarray:
  """A gallery of the first ``limit`` misclassified images, each captioned
  with its true and predicted label (by ``class_names`` where given).
  ``images`` ``(N, H, W)`` or ``(N, H, W, C)`` (shown by :func:`greyscale`);
  returns the indices drawn."""
  images = greyscale(images)
  name = (lambda k: str(k)) if class_names is None else (lambda k: class_names[k])
  chosen = misclassified(labels=labels, predictions=predictions, limit=limit)
  h, w = images.shape[1:]
  cols = min(GALLERY_COLS, max(1, len(chosen)))
  rows = _grid(max(1, len(chosen)), cols)[0]
  # A caption band above each digit: rows of (caption gap + digit).
  gap, sep = (h // 2, " ") if class_names is None else (h, "\n")  # names: two lines
  tiles = np.moveaxis(images[chosen].astype(float), 0, -1)
  padded = np.concatenate([np.full((gap, w, len(chosen)), np.nan), tiles], axis=0)
  fig, axes = style.figure(width=0.8 * cols + 0.6, height=0.95 * rows * (h + gap) / (1.5 * h) + 0.9)
  ax = axes[0, 0]
  ax.set_axis_off()
  if len(chosen):
    ax.imshow(montage(padded, cols=cols, gap=2),
              cmap=matplotlib.colormaps["gray_r"].with_extremes(bad="white"),
              interpolation="nearest")
    for j, index in enumerate(chosen):
      r, c = divmod(j, cols)
      ax.text(c * (w + 2) + w / 2, r * (h + gap + 2) + gap - 1,
              f"{name(labels[index])}{sep}→ {name(predictions[index])}", ha="center",
              va="bottom", fontsize=7)
  else:
    ax.text(0.5, 0.5, "no misclassified digits", ha="center", va="center")
  wrong = int(np.sum(np.asarray(labels) != np.asarray(predictions)))
  fig.suptitle(f"{title}\ntrue → predicted; the first {len(chosen)} of {wrong} wrong, "
               "in test order")
  style.save(fig, path)
  return chosen
