"""Models by name: ``create("convnet", activation="tanh")``.

A model is registered with a factory whose keyword arguments are its
hyperparameters, and with the preprocessing that gives it the input it takes
(LeNet-5 reads the digit padded to 32x32). A config holds one model as a
section, ``config.model``: its ``name`` and every hyperparameter of that model
at its default (:func:`config`), so a command-line override reaches exactly
the settings the model has, and :func:`build` passes them on unfiltered.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from typing import Any, Callable, Mapping

import flax.linen as nn
from ml_collections import ConfigDict, config_dict


@dataclasses.dataclass(frozen=True)
class _Entry:
  factory: Callable[..., nn.Module]
  description: str
  preprocess: str


_ENTRIES: dict[str, _Entry] = {}


def register(name: str, description: str, *, preprocess: str = "scale"
             ) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
  """Decorator: register ``factory(**hyperparameters) -> nn.Module`` as ``name``,
  fed by the preprocessor called ``preprocess`` unless a config names another."""
  def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    if name in _ENTRIES:
      raise ValueError(f"model {name!r} is registered twice")
    _ENTRIES[name] = _Entry(factory, description, preprocess)
    return factory
  return decorate


def names() -> list[str]:
  """Registered model names, in registration order."""
  return list(_ENTRIES)


def _entry(name: str) -> _Entry:
  try:
    return _ENTRIES[name]
  except KeyError:
    close = difflib.get_close_matches(name, names(), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ValueError(f"unknown model {name!r}; {hint}known models: {', '.join(names())}"
                     ) from None


def describe(name: str) -> str:
  """The one-line description ``name`` was registered with."""
  return _entry(name).description


def default_preprocess(name: str) -> str:
  """The preprocessor that gives model ``name`` the input it takes."""
  return _entry(name).preprocess


def hyperparameters(name: str) -> dict[str, Any]:
  """The model's hyperparameters and their defaults."""
  return {p.name: p.default for p in inspect.signature(_entry(name).factory).parameters.values()}


def _same_kind(value: Any, default: Any) -> bool:
  """Whether ``value`` can stand for ``default``: the same type (an int for a
  float, a list for a tuple), element by element for sequences."""
  if default is None:
    return True
  if isinstance(default, (tuple, list)):
    return (isinstance(value, (tuple, list))
            and all(_same_kind(v, default[0]) for v in value) if default else True)
  if isinstance(default, bool) or isinstance(value, bool):
    return isinstance(value, bool) and isinstance(default, bool)
  if isinstance(default, float):
    return isinstance(value, (int, float))
  return isinstance(value, type(default))


def _check_settings(name: str, settings: Mapping[str, Any]) -> None:
  accepted = hyperparameters(name)
  for key, value in settings.items():
    if key not in accepted:
      close = difflib.get_close_matches(key, accepted, n=3)
      hint = f"did you mean {', '.join(close)}? " if close else ""
      raise ValueError(f"model {name!r} has no setting {key!r}; {hint}its settings: "
                       f"{', '.join(accepted)}")
    if value is not None and not _same_kind(value, accepted[key]):
      raise ValueError(f"model {name!r}: setting {key}={value!r} should be like its default "
                       f"{accepted[key]!r}")


def config(name: str, **settings: Any) -> ConfigDict:
  """The ``config.model`` section for model ``name``: ``name`` and every
  hyperparameter at its default, with ``settings`` set (each checked).

  A setting whose default is None is typed ``object`` (parsed as a Python
  literal from the command line), since ml_collections cannot override a
  field whose type it cannot tell.
  """
  _check_settings(name, settings)
  section = ConfigDict({"name": name})
  for key, default in hyperparameters(name).items():
    value = settings.get(key, default)
    section[key] = config_dict.placeholder(object) if value is None else value
  return section


def create(name: str, **settings: Any) -> nn.Module:
  """Build model ``name``; a setting it does not have is a ValueError naming it."""
  _check_settings(name, settings)
  return _entry(name).factory(**settings)


def settings(section: Mapping[str, Any]) -> dict[str, Any]:
  """A ``config.model`` section's hyperparameters, without its name."""
  plain = section.to_dict() if isinstance(section, ConfigDict) else dict(section)
  return {k: v for k, v in plain.items() if k != "name"}


def build(section: Mapping[str, Any]) -> nn.Module:
  """Build the model a ``config.model`` section describes."""
  return create(section["name"], **settings(section))
