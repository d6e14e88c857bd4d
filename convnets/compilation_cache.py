"""JAX's persistent compilation cache, on by default in a per-user folder.

XLA compiles every jitted program (the epoch, the evaluation, the
initialisation, the data permutation) on each start of a process. The cache
keeps the compiled executables on disk, keyed by the program, its shapes, the
backend and the JAX version, so a second run of the same config loads them
instead of compiling: the same executable, so the same numbers. Folder: JAX's
own ``$JAX_COMPILATION_CACHE_DIR`` when set, else
``$XDG_CACHE_HOME/convnets/xla`` (``~/.cache``); ``--nocompilation_cache``
turns it off.
"""

from __future__ import annotations

import os
import sys


def default_dir() -> str:
  """``$XDG_CACHE_HOME/convnets/xla`` (``~/.cache/convnets/xla``)."""
  root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(root, "convnets", "xla")


def enable(folder: str | None = None) -> str | None:
  """Cache every compiled program in ``folder`` (default: JAX's configured
  folder, else :func:`default_dir`); returns the folder, or None when it
  cannot be created (one note on stderr: the run compiles as it would without
  a cache). Small programs are cached too: a run compiles a dozen of them and
  together they cost seconds."""
  import jax

  folder = folder or jax.config.jax_compilation_cache_dir or default_dir()
  try:
    os.makedirs(folder, exist_ok=True)
  except OSError as e:
    print(f"note: no compilation cache ({folder}: {e.strerror}); set JAX_COMPILATION_CACHE_DIR "
          "to a writable folder, or pass --nocompilation_cache", file=sys.stderr)
    return None
  jax.config.update("jax_compilation_cache_dir", folder)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return folder


def disable() -> None:
  """No persistent cache, even where ``$JAX_COMPILATION_CACHE_DIR`` asks JAX for one."""
  import jax

  jax.config.update("jax_enable_compilation_cache", False)
