"""Learning curves as PNG (matplotlib, no display needed)."""

from __future__ import annotations

from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def plot_curves(history: Sequence[dict[str, Any]], path: str, title: str) -> None:
  """Loss and error (%) against epoch, train and validation, side by side."""
  epochs = [h["epoch"] for h in history]
  fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(10, 4))
  ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
  ax_loss.plot(epochs, [h["valid_loss"] for h in history], "s-", label="validation")
  ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
  ax_err.plot(epochs, [100 * (1 - h["train_accuracy"]) for h in history], "o-", label="train")
  ax_err.plot(epochs, [100 * (1 - h["valid_accuracy"]) for h in history], "s-",
              label="validation")
  ax_err.set(xlabel="epoch", ylabel="error (%)", title="classification error", yscale="log")
  for ax in (ax_loss, ax_err):
    ax.grid(True, alpha=0.3)
    ax.legend()
  fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
