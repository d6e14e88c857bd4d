"""A run's folder: its config, per-epoch metrics, summary, checkpoints and plots.

Layout of ``workdir``:
  config.json     the full config the run used
  metrics.jsonl   one JSON object per epoch, appended as the epoch ends
  checkpoints/    the last few train states (Orbax), to resume from
  summary.json    final numbers, written last (its presence means the run finished)
  curves.png      loss and accuracy against epoch, train and validation
  variables.msgpack  the trained model's variables (flax.serialization)
  preprocessor.npz   what the preprocessor learnt from the training split (PCA/ZCA)
  .lock           held by the process training the run (:mod:`convnets.train.lock`)

Every file is written atomically (a temporary file renamed over it), JSON
strictly (a non-finite number becomes ``null``), and a write that fails
(a full disk, a read-only folder) is a :class:`WorkdirError` naming the path.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import shutil
from typing import Any, Iterator

import flax.serialization

CONFIG, METRICS, SUMMARY = "config.json", "metrics.jsonl", "summary.json"
# Beside a workdir, its finished results while an --overwrite run replaces them.
REPLACED_SUFFIX = ".replaced"


class WorkdirError(ValueError):
  """A workdir that cannot be used as asked (earlier results, a failed write)."""


def default_workdir(name: str, root: str = "runs") -> str:
  """A new folder ``runs/YYYYmmdd-HHMMSS-NAME`` (a suffix keeps it unique)."""
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
  path = os.path.join(root, f"{stamp}-{name}")
  candidate, n = path, 1
  while os.path.exists(candidate):
    n += 1
    candidate = f"{path}-{n}"
  return candidate


@contextlib.contextmanager
def writing(path: str) -> Iterator[None]:
  """Turn an ``OSError`` while writing ``path`` into a one-line WorkdirError."""
  try:
    yield
  except OSError as e:
    raise WorkdirError(f"could not write {path}: {e.strerror or e}; free some space or fix "
                       f"the folder's permissions, then run the same command again (a "
                       f"started run resumes from its last checkpoint)") from None


def make_folder(path: str) -> None:
  """``os.makedirs`` with a refusal that names a file in the way."""
  if os.path.exists(path) and not os.path.isdir(path):
    raise WorkdirError(f"workdir {path} is a file, not a folder; choose another --workdir")
  with writing(path):
    os.makedirs(path, exist_ok=True)


def set_aside(workdir: str) -> str | None:
  """Move ``workdir``'s contents (all but its locks) to ``workdir.replaced``,
  which is kept until :func:`discard_replaced`; returns that folder, or None
  if ``workdir`` holds nothing. A ``.replaced`` folder left by an interrupted
  replacement holds the older finished results and is kept as it is."""
  names = ([n for n in os.listdir(workdir) if not n.endswith(".lock")]
           if os.path.isdir(workdir) else [])
  if not names:
    return None
  aside = workdir.rstrip(os.sep) + REPLACED_SUFFIX
  with writing(aside):
    if os.path.exists(aside):
      for name in names:
        target = os.path.join(workdir, name)
        shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)
    else:
      os.makedirs(aside)
      for name in names:
        os.replace(os.path.join(workdir, name), os.path.join(aside, name))
  return aside


def discard_replaced(workdir: str) -> None:
  """Delete the results an --overwrite run has now replaced."""
  shutil.rmtree(workdir.rstrip(os.sep) + REPLACED_SUFFIX, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """A temporary path to write ``path``'s new content to; it replaces
  ``path`` only once the block has finished, so a reader never sees half a
  file, and a failed write leaves the old one."""
  tmp = path + ".tmp"
  with writing(path):
    try:
      yield tmp
      os.replace(tmp, path)
    finally:
      if os.path.exists(tmp):
        os.remove(tmp)


def strict(obj: Any) -> Any:
  """``obj`` with every non-finite float replaced by None (JSON has no NaN)."""
  if isinstance(obj, float):
    return obj if math.isfinite(obj) else None
  if isinstance(obj, dict):
    return {k: strict(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [strict(v) for v in obj]
  return obj


def as_written(obj: Any) -> Any:
  """``obj`` as :func:`write_json`'s file gives it back: tuples as lists,
  non-finite floats as None; for comparing what is wanted with what is stored."""
  return json.loads(json.dumps(strict(obj)))


def write_json(path: str, obj: Any) -> None:
  """Write ``obj`` as indented, strict JSON, atomically."""
  with atomic_path(path) as tmp, open(tmp, "w") as f:
    json.dump(strict(obj), f, indent=2, sort_keys=True, allow_nan=False)
    f.write("\n")


@contextlib.contextmanager
def reading(path: str) -> Iterator[None]:
  """Turn a missing or broken ``path`` into a one-line WorkdirError naming it."""
  try:
    yield
  except (OSError, ValueError) as e:
    raise WorkdirError(f"cannot read {path}: {e}; delete the file (or the run's folder) "
                       f"to train that run again") from None


def read_json(path: str) -> Any:
  """``path``'s JSON; a missing or broken file is a WorkdirError naming it."""
  with reading(path), open(path) as f:
    return json.load(f)


def write_jsonl(path: str, records: list[dict[str, Any]]) -> None:
  """Write ``records`` as JSON lines, atomically (a resumed run's history)."""
  with atomic_path(path) as tmp, open(tmp, "w") as f:
    for record in records:
      f.write(json.dumps(strict(record), sort_keys=True, allow_nan=False) + "\n")


def append_jsonl(path: str, record: dict[str, Any]) -> None:
  """Append one strict JSON line, flushed to disk: a kill never leaves half a line
  that a resume would keep (it rewrites the file from the checkpoint), and a
  write that fails part-way (a full disk) is cut back, so the file never ends
  mid-line."""
  line = memoryview((json.dumps(strict(record), sort_keys=True, allow_nan=False)
                     + "\n").encode())
  with writing(path):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    end = os.lseek(fd, 0, os.SEEK_END)
    try:
      while line:
        line = line[os.write(fd, line):]
      os.fsync(fd)
    except OSError:
      os.ftruncate(fd, end)
      raise
    finally:
      os.close(fd)


def read_jsonl(path: str) -> list[dict[str, Any]]:
  """``path``'s JSON lines; a missing or broken file is a WorkdirError naming it."""
  with reading(path), open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def save_variables(workdir: str, variables: Any) -> None:
  """Store a model's variables (``{"params": ..., ...}``) in ``workdir``."""
  with atomic_path(os.path.join(workdir, "variables.msgpack")) as tmp, open(tmp, "wb") as f:
    f.write(flax.serialization.msgpack_serialize(flax.serialization.to_state_dict(variables)))


def load_variables(workdir: str) -> dict[str, Any]:
  """The variables saved by :func:`save_variables`, as nested dicts of arrays."""
  with open(os.path.join(workdir, "variables.msgpack"), "rb") as f:
    return flax.serialization.msgpack_restore(f.read())
