"""Shared fixtures. The MNIST tests read the data folder from
``$CONVNETS_DATA_DIR`` (``.ci/run`` points it at the shared copy)."""

from __future__ import annotations

import os

import jax
import pytest

from convnets.data import MNIST, load

# On GPUs from Ampere on, XLA multiplies float32 in TF32 by default (a 10-bit
# mantissa: relative errors near 1e-3, measured 6e-3 on an H200 against SciPy).
# The tests check the math against float64 references at 1e-5, so they ask for
# full float32 everywhere; on CPU this changes nothing.
jax.config.update("jax_default_matmul_precision", "highest")


@pytest.fixture(scope="session")
def mnist() -> MNIST:
  """The real MNIST splits; fails (not skips) when the data folder is missing."""
  if not os.environ.get("CONVNETS_DATA_DIR"):
    pytest.fail("set CONVNETS_DATA_DIR to a folder with the four MNIST IDX .gz files")
  return load()
