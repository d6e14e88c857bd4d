"""A fresh clone with MNIST only in the per-user cache: the tests find it
there, as the library does, with no environment variable set."""

from __future__ import annotations

import os
import subprocess
import sys

from convnets.data import mnist as mnist_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_DATA_TEST = "tests/test_data.py::test_course_split_of_real_mnist"


def pytest_with_home(home: str, *args: str) -> subprocess.CompletedProcess:
  """``python -m pytest *args`` in the checkout, in one process (``-n 0``),
  with ``HOME=home`` and neither ``$CONVNETS_DATA_DIR`` nor ``$XDG_CACHE_HOME`` set."""
  env = {k: v for k, v in os.environ.items() if k not in (mnist_lib.ENV_VAR, "XDG_CACHE_HOME")}
  env["HOME"] = home
  command = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *args]
  return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_mnist_in_the_per_user_cache_is_found(tmp_path, mnist_dir):
  cache = tmp_path / ".cache" / "convnets" / "mnist"
  cache.mkdir(parents=True)
  for name in mnist_lib.FILES.values():
    (cache / name).symlink_to(os.path.join(mnist_dir, name))
  run = pytest_with_home(str(tmp_path), REAL_DATA_TEST)
  assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout[-3000:]


def test_no_mnist_anywhere_fails_with_the_librarys_message(tmp_path):
  run = pytest_with_home(str(tmp_path), REAL_DATA_TEST)
  assert run.returncode != 0 and "1 error" in run.stdout, run.stdout[-3000:]
  assert "MNIST files not found" in run.stdout and "--download" in run.stdout
