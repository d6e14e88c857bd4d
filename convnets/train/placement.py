"""Where a run's arrays live, and how several seeds share one program.

:class:`Placement`: one device, or data parallelism over a ``Mesh``.
:class:`Lockstep`: one model, or several seeds trained together with every
function ``vmap``-ped over a leading models axis.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from convnets.train.checks import ConfigError


class Placement:
  """One device, or data parallelism over a ``Mesh`` of ``num_devices``.

  With several devices the batch axis is sharded over the mesh axis
  ``"data"`` and everything else (parameters, optimiser state, the stored data
  set) is replicated; XLA inserts the gradient all-reduce. In a multi-process
  job (``jax.distributed.initialize``, :mod:`convnets.runtime`) the mesh spans
  every process's devices: each process holds the same data set and state,
  computes its devices' slice of every global batch, and the all-reduce
  crosses processes.
  """

  def __init__(self, num_devices: int = 0):
    devices = jax.devices()
    n = len(devices) if num_devices == 0 else num_devices
    if not 1 <= n <= len(devices):
      raise ConfigError(f"config.num_devices={num_devices}: only {len(devices)} "
                        f"{jax.default_backend()} devices exist (0 = all)")
    self.multiprocess = jax.process_count() > 1
    if self.multiprocess and n != len(devices):
      raise ConfigError(f"config.num_devices={num_devices}: a job of {jax.process_count()} "
                        f"processes trains on all {len(devices)} of their devices; set 0")
    self.num_devices = n
    self.mesh = (jax.sharding.Mesh(np.asarray(devices[:n]), ("data",)) if n > 1 else None)

  def replicate(self, tree: Any) -> Any:
    """``tree`` (the same values in every process) on every device of the mesh."""
    if self.mesh is None:
      return tree
    sharding = NamedSharding(self.mesh, PartitionSpec())
    if not self.multiprocess:
      return jax.device_put(tree, sharding)
    return jax.tree.map(lambda x: _global(x, sharding), tree)

  def shard_batch(self, x: jax.Array, axis: int = 0) -> jax.Array:
    """Inside a jitted function: split ``x``'s batch ``axis`` over the devices."""
    if self.mesh is None:
      return x
    spec = (None,) * axis + ("data",)
    return jax.lax.with_sharding_constraint(x, NamedSharding(self.mesh, PartitionSpec(*spec)))


def _global(x: Any, sharding: NamedSharding) -> jax.Array:
  """One global array from this process's full copy of ``x`` (``device_put``
  places only on a process's own devices); PRNG keys travel as their raw data."""
  if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
    data = _global(jax.random.key_data(x), sharding)
    return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
  return jax.make_array_from_process_local_data(sharding, np.asarray(x))


@dataclasses.dataclass(frozen=True)
class Lockstep:
  """The seeds of a run. Several train together: their states are stacked on
  a leading models axis and every function is vmapped over it (one compiled
  program for all). One seed runs unbatched, so that a single run's numbers
  do not depend on how it was launched."""
  seeds: tuple[int, ...]

  @property
  def many(self) -> bool:
    return len(self.seeds) > 1

  def map(self, fn: Callable, in_axes: Any) -> Callable:
    """``fn`` over the models axis (``in_axes`` as for ``jax.vmap``)."""
    return jax.vmap(fn, in_axes=in_axes) if self.many else fn

  def keys(self) -> tuple[jax.Array, jax.Array]:
    """``(init keys, data keys)``: each seed's key split in two."""
    keys = jnp.stack([jax.random.split(jax.random.key(seed)) for seed in self.seeds])
    return (keys[:, 0], keys[:, 1]) if self.many else (keys[0, 0], keys[0, 1])

  def zeros(self) -> jax.Array:
    """A zero per model: the start of a metric sum."""
    return jnp.zeros((len(self.seeds),) if self.many else ())

  def select(self, flags: Sequence[bool]) -> jax.Array:
    """Per-model booleans, shaped to the models axis (a scalar for one seed)."""
    return jnp.asarray(flags if self.many else flags[0])

  def take(self, tree: Any, i: int) -> Any:
    """Model ``i``'s part of ``tree``."""
    return jax.tree.map(lambda x: x[i], tree) if self.many else tree
