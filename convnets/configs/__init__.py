"""Python config files (ml_collections), overridable as ``--config.NAME=VALUE``."""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from ml_collections import ConfigDict

MODEL_NAME = "model.name"


def _child(node: ConfigDict, name: str, path: str) -> Any:
  if name not in node:
    close = difflib.get_close_matches(name, list(node.keys()), n=3)
    hint = f"; did you mean {', '.join(f'{path}{c}' for c in close)}?" if close else ""
    raise ValueError(f"config has no field {path}{name}{hint}")
  return node[name]


def set_dotted(config: ConfigDict, overrides: Mapping[str, Any]) -> ConfigDict:
  """Set dotted keys of ``config`` in place, e.g. ``{"model.pooling": "avg"}``,
  and return it. Every key must name an existing field (a ValueError names
  the first that does not, with close matches). ``"model.name"`` is set first
  and, naming another model, resets the model section to that model's
  defaults, so the other ``model.*`` keys set that model's own settings."""
  from convnets import models  # the registry imports flax; configs alone need not

  for key in sorted(overrides, key=lambda k: k != MODEL_NAME):
    value = overrides[key]
    if key == MODEL_NAME and value != config.model.name:
      config.model = models.config(value)
      continue
    *parents, leaf = key.split(".")
    node, path = config, "config."
    for name in parents:
      node, path = _child(node, name, path), f"{path}{name}."
    _child(node, leaf, path)
    node[leaf] = value
  return config


def configure(base: ConfigDict, overrides: Mapping[str, Any]) -> ConfigDict:
  """A copy of ``base`` with the dotted ``overrides`` set (:func:`set_dotted`)."""
  return set_dotted(base.copy_and_resolve_references(), overrides)
