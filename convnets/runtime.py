"""Process set-up that must happen before JAX starts."""

from __future__ import annotations

import os
import sys
from typing import Any, Mapping

TCMALLOC_PATHS = ("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
                  "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4")
OPT_OUT = "CONVNETS_NO_TCMALLOC"


def use_fast_malloc() -> None:
  """Re-run this process with tcmalloc preloaded, when it is installed.

  XLA's CPU runtime allocates and frees many buffers per step; glibc's malloc
  returns them to the OS and pays page faults again
  (``benchmarks/train_loop.py`` times both allocators). tcmalloc keeps them. Set
  ``CONVNETS_NO_TCMALLOC=1`` to opt out.
  """
  if os.environ.get(OPT_OUT) or "tcmalloc" in os.environ.get("LD_PRELOAD", ""):
    return
  library = next((p for p in TCMALLOC_PATHS if os.path.exists(p)), None)
  if library is None:
    return
  env = dict(os.environ, LD_PRELOAD=":".join(filter(None, [library, os.environ.get("LD_PRELOAD")])))
  os.execve(sys.executable, [sys.executable] + sys.argv, env)


# Set by the launchers of multi-host jobs (JAX's own, SLURM, Cloud TPU pods).
DISTRIBUTED_ENV = ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS")
# A job started by hand (or by a script) on every host names all three.
EXPLICIT_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
CPU_COLLECTIVES = "JAX_CPU_COLLECTIVES_IMPLEMENTATION"


class DistributedError(ValueError):
  """Coordinator settings that cannot form a job; the message names the variable."""


def _integer(env: Mapping[str, str], name: str, low: int, high: int | None = None) -> int:
  value = env[name]
  if not value.strip().isdigit() or int(value) < low or (high is not None and int(value) > high):
    bound = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
    job = f" (JAX_NUM_PROCESSES={high + 1}; each process its own)" if high is not None else ""
    raise DistributedError(f"{name}={value}: must be {bound}{job}")
  return int(value)


def distributed_settings(env: Mapping[str, str] = os.environ) -> dict[str, Any] | None:
  """The keyword arguments of ``jax.distributed.initialize`` the environment
  asks for: None for a single process, ``{}`` where JAX finds them itself
  (``srun`` with several tasks, a Cloud TPU pod), else the coordinator
  ``HOST:PORT``, process count and index of :data:`EXPLICIT_ENV`."""
  given = [name for name in EXPLICIT_ENV if env.get(name)]
  if len(given) in (1, 2) and given != ["JAX_COORDINATOR_ADDRESS"]:
    missing = [name for name in EXPLICIT_ENV if name not in given]
    raise DistributedError(f"{', '.join(given)} set without {', '.join(missing)}: set all "
                           "three on every process of the job (or none, under srun or on a "
                           "TPU pod)")
  if len(given) == 3:
    address = env["JAX_COORDINATOR_ADDRESS"]
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
      raise DistributedError(f"JAX_COORDINATOR_ADDRESS={address}: must be HOST:PORT, where "
                             "process 0 listens (e.g. localhost:12355)")
    count = _integer(env, "JAX_NUM_PROCESSES", 1)
    return {"coordinator_address": address, "num_processes": count,
            "process_id": _integer(env, "JAX_PROCESS_ID", 0, count - 1)}
  multi_slurm = int(env.get("SLURM_NTASKS", "1")) > 1
  tpu_pod = "," in env.get("TPU_WORKER_HOSTNAMES", "")
  return {} if any(env.get(v) for v in DISTRIBUTED_ENV) or multi_slurm or tpu_pod else None


def maybe_initialize_distributed() -> bool:
  """Join a multi-process job when the launcher's environment says there is one.

  ``jax.distributed.initialize`` gets the settings of
  :func:`distributed_settings` (raising DistributedError for inconsistent
  ones). After it, ``jax.devices()`` lists every process's devices and the
  training mesh spans them all (:class:`convnets.train.placement.Placement`).
  CPU processes all-reduce through gloo (XLA's CPU collectives over TCP),
  unless ``$JAX_CPU_COLLECTIVES_IMPLEMENTATION`` names another. Returns
  whether it initialised.
  """
  settings = distributed_settings()
  if settings is None:
    return False
  import jax
  if not os.environ.get(CPU_COLLECTIVES):
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(**settings)
  return True
