"""A run's folder: its config, per-epoch metrics, summary and plots.

Layout of ``workdir``:
  config.json     the full config the run used
  metrics.jsonl   one JSON object per epoch, appended as the epoch ends
  summary.json    final numbers, written last (its presence means the run finished)
  curves.png      loss and accuracy against epoch, train and validation
  variables.msgpack  the trained model's variables (flax.serialization)
  preprocessor.npz   what the preprocessor learnt from the training split (PCA/ZCA)
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from typing import Any, Iterator

import flax.serialization

OUTPUTS = ("config.json", "metrics.jsonl", "summary.json", "curves.png", "variables.msgpack",
           "preprocessor.npz")


class WorkdirError(ValueError):
  """A workdir that would overwrite earlier results."""


def default_workdir(name: str, root: str = "runs") -> str:
  """A new folder ``runs/YYYYmmdd-HHMMSS-NAME`` (a suffix keeps it unique)."""
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
  path = os.path.join(root, f"{stamp}-{name}")
  candidate, n = path, 1
  while os.path.exists(candidate):
    n += 1
    candidate = f"{path}-{n}"
  return candidate


def prepare(workdir: str, overwrite: bool = False) -> str:
  """Create ``workdir``; refuse a non-empty one unless ``overwrite``, which
  removes only this project's output files from it."""
  if os.path.isdir(workdir) and os.listdir(workdir):
    if not overwrite:
      raise WorkdirError(f"workdir {workdir} already holds results ({', '.join(sorted(os.listdir(workdir))[:5])}"
                         f"{', ...' if len(os.listdir(workdir)) > 5 else ''}); choose a new "
                         f"--workdir, or pass --overwrite to replace them")
    for name in OUTPUTS:
      path = os.path.join(workdir, name)
      if os.path.isfile(path):
        os.remove(path)
  elif os.path.exists(workdir) and not os.path.isdir(workdir):
    raise WorkdirError(f"workdir {workdir} is a file, not a folder; choose another --workdir")
  os.makedirs(workdir, exist_ok=True)
  return workdir


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """A temporary path to write ``path``'s new content to; it replaces
  ``path`` only once the block has finished, so a reader never sees half a file."""
  tmp = path + ".tmp"
  yield tmp
  os.replace(tmp, path)


def write_json(path: str, obj: Any) -> None:
  """Write ``obj`` as indented JSON, atomically."""
  with atomic_path(path) as tmp, open(tmp, "w") as f:
    json.dump(obj, f, indent=2, sort_keys=True)
    f.write("\n")


def append_jsonl(path: str, record: dict[str, Any]) -> None:
  with open(path, "a") as f:
    f.write(json.dumps(record, sort_keys=True) + "\n")


def read_jsonl(path: str) -> list[dict[str, Any]]:
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def save_variables(workdir: str, variables: Any) -> None:
  """Store a model's variables (``{"params": ..., ...}``) in ``workdir``."""
  with atomic_path(os.path.join(workdir, "variables.msgpack")) as tmp, open(tmp, "wb") as f:
    f.write(flax.serialization.msgpack_serialize(flax.serialization.to_state_dict(variables)))


def load_variables(workdir: str) -> dict[str, Any]:
  """The variables saved by :func:`save_variables`, as nested dicts of arrays."""
  with open(os.path.join(workdir, "variables.msgpack"), "rb") as f:
    return flax.serialization.msgpack_restore(f.read())
