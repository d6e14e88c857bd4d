"""A run's learning curves as PNG, in the project's style (:mod:`convnets.style`)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from convnets import style


def plot_curves(history: Sequence[dict[str, Any]], path: str, title: str) -> None:
  """Loss and error (%) against epoch, train and validation, side by side
  (``history``: the records of ``metrics.jsonl``); each on a log axis where
  it spans more than 4x, as falling curves do."""
  epochs = [h["epoch"] for h in history]
  fig, axes = style.figure(cols=2, width=10.5, height=3.8)
  ax_loss, ax_err = axes[0]
  series: dict[str, list[np.ndarray]] = {"loss": [], "error": []}
  for i, (split, name) in enumerate((("train", "train"), ("valid", "validation"))):
    series["loss"].append(np.array([h[f"{split}_loss"] for h in history]))
    series["error"].append(np.array([100 * (1 - h[f"{split}_accuracy"]) for h in history]))
    for ax, key in ((ax_loss, "loss"), (ax_err, "error")):
      ax.plot(epochs, series[key][-1], style.marker(i) + "-", color=style.colour(i), ms=4,
              label=name)
  ax_loss.set(xlabel="epoch", title="loss")
  ax_err.set(xlabel="epoch", title="classification error")
  for ax, key, label in ((ax_loss, "loss", "cross-entropy (nats)"),
                         (ax_err, "error", "error (%)")):
    values = np.concatenate(series[key])
    if values.min() > 0 and values.max() / values.min() > 4:
      style.log_axis(ax, which="y", label=label, subs=(1.0, 2.0, 5.0))
    else:
      ax.set_ylabel(label)
  for ax in (ax_loss, ax_err):
    ax.xaxis.get_major_locator().set_params(integer=True)
  style.legend_outside(ax_err)
  fig.suptitle(title)
  style.save(fig, path)
