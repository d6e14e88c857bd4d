"""Process set-up that must happen before JAX starts."""

from __future__ import annotations

import os
import sys

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


def maybe_initialize_distributed() -> bool:
  """Join a multi-host job when the launcher's environment says there is one.

  ``jax.distributed.initialize()`` reads the coordinator address, process
  count and index from the environment (JAX's variables, SLURM's, or a Cloud
  TPU pod's metadata). After it, ``jax.devices()`` lists every host's devices
  and the training mesh spans them all. Returns whether it initialised.
  """
  multi_slurm = int(os.environ.get("SLURM_NTASKS", "1")) > 1
  tpu_pod = "," in os.environ.get("TPU_WORKER_HOSTNAMES", "")
  if not (any(os.environ.get(v) for v in DISTRIBUTED_ENV) or multi_slurm or tpu_pod):
    return False
  import jax
  jax.distributed.initialize()
  return True
