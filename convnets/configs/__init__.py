"""Python config files (ml_collections), overridable as ``--config.NAME=VALUE``."""

from __future__ import annotations

from typing import Any, Mapping

from ml_collections import ConfigDict


def set_dotted(config: ConfigDict, overrides: Mapping[str, Any]) -> ConfigDict:
  """Set dotted keys in ``config`` in place, e.g. ``{"model_kwargs.pooling":
  "avg"}``, and return it."""
  for key, value in overrides.items():
    *parents, leaf = key.split(".")
    node = config
    for name in parents:
      node = node[name]
    node[leaf] = value
  return config
