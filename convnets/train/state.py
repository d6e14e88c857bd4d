"""The training state: everything a step reads and writes, as one pytree."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import optax


@flax.struct.dataclass
class TrainState:
  """``params`` and ``batch_stats`` are the model's variable collections
  (``batch_stats`` is empty for models without batch normalisation); ``key``
  seeds the step's randomness (dropout), folded with ``step``."""
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: optax.OptState
  key: jax.Array

  def variables(self) -> dict[str, Any]:
    """The ``variables`` argument of ``model.apply`` for evaluation."""
    if self.batch_stats:
      return {"params": self.params, "batch_stats": self.batch_stats}
    return {"params": self.params}


def count_params(params: Any) -> int:
  """The number of parameters (array entries) in a parameter tree."""
  return int(sum(x.size for x in jax.tree.leaves(params)))
