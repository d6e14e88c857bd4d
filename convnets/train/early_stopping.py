"""Early stopping on the validation error, for one model or several in lockstep.

Training stops once the validation error has not improved for ``patience``
epochs, and the parameters of the best epoch are restored (Goodfellow, Bengio
& Courville, *Deep Learning*, Section 7.8, Algorithm 7.1; Prechelt 1998,
"Early Stopping - But When?"). The number of epochs becomes a hyperparameter
chosen on the validation set, so the test set is still touched once.

With several seeds trained in lockstep (one vmapped program), each seed keeps
its own best epoch, best variables and patience; training continues until
every seed's patience has run out, and a seed that has stopped ignores the
epochs after it, so each seed's result is what it would be trained alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass
class EarlyStopping:
  """Per-seed bookkeeping; arrays are ``(seeds,)``.

  Attributes:
    patience: epochs without improvement after which a seed stops (>= 1).
    best_error: lowest validation error so far (``inf`` before the first epoch).
    best_epoch: the epoch that reached it (0 before the first).
    stopped_epoch: the epoch at which the seed stopped; 0 while it trains.
  """
  patience: int
  best_error: np.ndarray
  best_epoch: np.ndarray
  stopped_epoch: np.ndarray

  @classmethod
  def start(cls, seeds: int, patience: int) -> "EarlyStopping":
    if patience < 1:
      raise ValueError(f"patience must be >= 1, got {patience}")
    return cls(patience, np.full(seeds, np.inf), np.zeros(seeds, int), np.zeros(seeds, int))

  @property
  def running(self) -> np.ndarray:
    """``(seeds,)`` bool: the seeds still training."""
    return self.stopped_epoch == 0

  @property
  def done(self) -> bool:
    return not self.running.any()

  def update(self, epoch: int, errors: np.ndarray) -> np.ndarray:
    """Record epoch ``epoch``'s validation errors ``(seeds,)``.

    Returns ``(seeds,)`` bool: which running seeds improved (strictly lower
    error than their best so far), whose variables should be kept. A running
    seed without improvement for ``patience`` epochs stops at ``epoch``.
    """
    errors = np.asarray(errors, dtype=float)
    improved = self.running & (errors < self.best_error)
    self.best_error = np.where(improved, errors, self.best_error)
    self.best_epoch = np.where(improved, epoch, self.best_epoch)
    out_of_patience = self.running & (epoch - self.best_epoch >= self.patience)
    self.stopped_epoch = np.where(out_of_patience, epoch, self.stopped_epoch)
    return improved


@jax.jit
def keep_best(improved: jax.Array, current: Any, best: Any) -> Any:
  """``current``'s arrays where ``improved``, else ``best``'s, per model.

  Args:
    improved: ``()`` bool for one model, or ``(seeds,)`` for arrays with a
      leading seed axis.
    current, best: variable trees of the same structure.

  Returns:
    A new tree (fresh buffers: the training step donates ``current``'s).
  """
  def pick(now: jax.Array, old: jax.Array) -> jax.Array:
    mask = improved.reshape(improved.shape + (1,) * (now.ndim - improved.ndim))
    return jnp.where(mask, now, old)
  return jax.tree.map(pick, current, best)
