"""``pyproject.toml`` installs a working package: ``convnets`` and
``experiments`` with their text and config files, and the ``convnets``
command, importable from outside the checkout. (``pip install --target``
with the venv's setuptools: offline and quick; no dependencies installed.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_SOURCE = shutil.ignore_patterns(".venv", ".git", "runs", "results", "build", "*.egg-info",
                                    "__pycache__", ".hypothesis", ".pytest_cache", "notebooks")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> str:
  """A folder the project is pip-installed into (from a copy of the checkout,
  so that the build's own files stay out of it)."""
  tmp = tmp_path_factory.mktemp("packaging")
  source, target = tmp / "source", tmp / "site"
  shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
  run = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--no-build-isolation", "--disable-pip-version-check", "--target",
                        str(target), str(source)], capture_output=True, text=True, timeout=300)
  assert run.returncode == 0, run.stderr[-3000:]
  return str(target)


def run_outside(site: str, cwd, *command: str) -> subprocess.CompletedProcess:
  """``command`` in ``cwd`` (not the checkout) with only ``site`` added to the path."""
  env = dict(os.environ, PYTHONPATH=site)
  return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_packages_import_from_the_install_with_their_files(installed, tmp_path):
  code = ("import convnets, experiments, os; from convnets import cli; "
          "print(convnets.__file__); print(experiments.__file__); "
          "print(os.path.isfile(cli.DEFAULT_CONFIG)); print(experiments.get('pooling').question)")
  run = run_outside(installed, tmp_path, sys.executable, "-c", code)
  assert run.returncode == 0, run.stderr[-3000:]
  convnets_file, experiments_file, has_config, question = run.stdout.splitlines()[:4]
  assert convnets_file.startswith(installed) and experiments_file.startswith(installed)
  assert has_config == "True" and question.strip()


def test_console_script_describes_the_model(installed, tmp_path):
  run = run_outside(installed, tmp_path, sys.executable,
                    os.path.join(installed, "bin", "convnets"), "--model=lenet5", "--describe")
  assert run.returncode == 0, run.stderr[-3000:]
  assert "parameters (weights + biases)" in run.stdout and "C3" in run.stdout
