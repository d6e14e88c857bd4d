"""Shared fixtures. The MNIST tests read the data folder from
``$CONVNETS_DATA_DIR`` (``.ci/run`` points it at the shared copy)."""

from __future__ import annotations

import os

import pytest

from convnets.data import MNIST, load


@pytest.fixture(scope="session")
def mnist() -> MNIST:
  """The real MNIST splits; fails (not skips) when the data folder is missing."""
  if not os.environ.get("CONVNETS_DATA_DIR"):
    pytest.fail("set CONVNETS_DATA_DIR to a folder with the four MNIST IDX .gz files")
  return load()
