"""One writer per run: an exclusive lock held for the run's lifetime.

The lock is ``fcntl.flock`` on ``FOLDER/.lock``, which records the holder's
host and process id; the kernel releases it when the process ends, however
it ends (a kill -9 leaves no stale lock). A second process that would write
the same folder is refused with one line naming the holder, or, for a lock
taken in turns (an experiment's report), waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from typing import Iterator

from convnets.train.workdir import WorkdirError, make_folder, writing

LOCK_FILE = ".lock"


@contextlib.contextmanager
def hold(folder: str, what: str = "trained", name: str = LOCK_FILE, wait: bool = False
         ) -> Iterator[None]:
  """Hold ``folder``'s lock ``name`` for the block (creating the folder); if
  another process holds it, wait for it (``wait``: processes taking turns)
  or raise WorkdirError naming that process."""
  make_folder(folder)
  path = os.path.join(folder, name)
  with writing(path):
    handle = open(path, "a+")
  try:
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
      handle.seek(0)
      holder = handle.read().strip() or "another process"
      raise WorkdirError(f"{folder} is being {what} by {holder} (lock {path}); wait for it "
                         f"to finish, or choose another --workdir") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} on {socket.gethostname()}")
    handle.flush()
    yield
  finally:
    handle.close()
