"""Models by name: ``create("convnet", activation="tanh")``.

A model is registered with a factory whose keyword arguments are its
hyperparameters; :func:`create` checks the names it is given against the
factory's signature, so a misspelt or inapplicable setting is an error, never
silently ignored.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import flax.linen as nn

_FACTORIES: dict[str, Callable[..., nn.Module]] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register(name: str, description: str) -> Callable[[Callable[..., nn.Module]],
                                                        Callable[..., nn.Module]]:
  """Decorator: register ``factory(**hyperparameters) -> nn.Module`` as ``name``."""
  def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    if name in _FACTORIES:
      raise ValueError(f"model {name!r} is registered twice")
    _FACTORIES[name] = factory
    _DESCRIPTIONS[name] = description
    return factory
  return decorate


def names() -> list[str]:
  """Registered model names, in registration order."""
  return list(_FACTORIES)


def describe(name: str) -> str:
  """The one-line description ``name`` was registered with."""
  _factory(name)  # an unknown name raises, listing the known ones
  return _DESCRIPTIONS[name]


def _factory(name: str) -> Callable[..., nn.Module]:
  try:
    return _FACTORIES[name]
  except KeyError:
    raise ValueError(f"unknown model {name!r}; known models: {', '.join(names())}") from None


def hyperparameters(name: str) -> dict[str, Any]:
  """The model's hyperparameters and their defaults."""
  return {p.name: p.default for p in inspect.signature(_factory(name)).parameters.values()}


def create(name: str, **kwargs: Any) -> nn.Module:
  """Build model ``name``. Keyword arguments whose value is None are left at
  the model's default (so one config can carry settings that only some
  models take); any other unknown keyword is a ValueError naming it."""
  factory = _factory(name)
  accepted = hyperparameters(name)
  given = {k: v for k, v in kwargs.items() if v is not None}
  unknown = sorted(set(given) - set(accepted))
  if unknown:
    raise ValueError(f"model {name!r} has no setting {', '.join(map(repr, unknown))}; "
                     f"its settings: {', '.join(accepted)}")
  return factory(**given)
