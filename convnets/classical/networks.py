"""Trained networks inside classical methods: LeCun et al. 1998's combined
rows (Section III.C.10 and 11) train LeNet-4s and classify with them, or
with other classifiers on their features.

A method that takes ``config``, ``data`` and ``folder`` (see
:mod:`convnets.classical`) trains its network with the project's own
training loop (:func:`convnets.train.loop.train_and_evaluate`), under the
run's config with the ``model`` section replaced by the network's, into a
folder inside its run folder, where it stays to be inspected. A network that
finished there, or with the same config and seed in a sibling variant's run
folder (``W/runs/*/seed<k>/<name>``), is read back instead of trained again.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import os
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from convnets.data import Dataset

Log = Callable[[str], None]
CHUNK = 1_000  # inputs per forward pass


@dataclasses.dataclass(frozen=True)
class Network:
  """A trained network read back from its folder.

  Attributes:
    model, variables: the Flax model and its trained variables.
    shape: one input's shape ``(H, W, C)``.
    preprocess: the run's preprocessor, raw ``(N, 28, 28)`` uint8 -> model inputs.
    folder: where it lies.
    summary: its ``summary.json``.
    trained_now: trained by this call (else read back).
  """
  model: nn.Module
  variables: dict[str, Any]
  shape: tuple[int, ...]
  preprocess: Callable[[jax.Array], jax.Array]
  folder: str
  summary: dict[str, Any]
  trained_now: bool

  @functools.cached_property
  def _apply(self) -> Callable[..., jax.Array]:
    return jax.jit(self.model.apply)

  @functools.cached_property
  def _penultimate(self) -> Callable[..., jax.Array]:
    return jax.jit(functools.partial(penultimate, self.model))

  @functools.cached_property
  def _raw(self) -> Callable[..., jax.Array]:
    return jax.jit(lambda variables, images: self.model.apply(variables, self.preprocess(images)))

  def outputs(self, x: jax.Array, *, features: bool = False) -> jax.Array:
    """``(N, D)`` flattened model inputs (``classical.run.inputs``) -> the
    logits ``(N, classes)``, or with ``features`` the penultimate layer's
    ``(N, F)``; ``CHUNK`` at a time."""
    apply = self._penultimate if features else self._apply
    return jnp.concatenate([apply(self.variables, x[i:i + CHUNK].reshape(-1, *self.shape))
                            for i in range(0, x.shape[0], CHUNK)])

  def classify(self, images: np.ndarray) -> np.ndarray:
    """Raw ``(N, 28, 28)`` uint8 images -> ``(N,)`` predicted classes."""
    return np.concatenate([np.asarray(jnp.argmax(self._raw(self.variables, images[i:i + CHUNK]),
                                                 axis=-1))
                           for i in range(0, len(images), CHUNK)])


def penultimate(model: nn.Module, variables: Any, x: jax.Array) -> jax.Array:
  """The input ``(N, F)`` of ``model``'s last layer (its Dense named
  ``output``, as every LeNet with a softmax head has) on inputs ``x``
  ``(N, H, W, C)``: the features the paper's LeNet-4 / K-NN row classifies."""
  captured = []

  def interceptor(call, args, kwargs, context):
    if context.module.name == "output" and context.method_name == "__call__":
      captured.append(args[0])
    return call(*args, **kwargs)

  with nn.intercept_methods(interceptor):
    model.apply(variables, x)
  if not captured:
    raise ValueError(f"model {type(model).__name__} has no layer named 'output' to read "
                     "features from")
  return captured[0]


def network_config(config: ConfigDict, seed: int, **model: Any) -> ConfigDict:
  """The run's ``config`` with seed ``seed`` and the ``model`` section of
  the network (``model["name"]`` and its settings)."""
  from convnets import models  # the registry imports flax models; the classical methods need not

  net = config.copy_and_resolve_references()
  net.model = models.config(**model)
  net.seed = seed
  return net


def finished_with(folder: str, config: ConfigDict) -> bool:
  """Whether ``folder`` holds a run that finished with exactly ``config``."""
  from convnets.train import resume, workdir

  if not os.path.isfile(os.path.join(folder, workdir.SUMMARY)):
    return False
  saved = workdir.read_json(os.path.join(folder, workdir.CONFIG))
  return not resume.differences(saved, resume.run_config(config, config.seed))


def read_back(folder: str, trained_now: bool) -> Network:
  """The finished network in ``folder``."""
  from convnets.experiment.trained import load_run
  from convnets.train import pipeline, workdir

  run = load_run(folder)
  return Network(model=run.model, variables=run.variables,
                 shape=tuple(pipeline.model_input_shape(run.config)), preprocess=run.preprocess,
                 folder=folder, summary=workdir.read_json(os.path.join(folder, workdir.SUMMARY)),
                 trained_now=trained_now)


def trained(config: ConfigDict, *, data: Dataset, folder: str, name: str, log: Log,
            share: bool = False) -> Network:
  """The network ``config`` trained on ``data`` into ``folder/name``, or read
  back from there or (with ``share``) from a sibling variant's run folder
  that holds it finished with the same config."""
  from convnets.train.loop import train_and_evaluate

  mine = os.path.join(folder, name)
  runs = os.path.dirname(os.path.dirname(os.path.abspath(folder)))
  siblings = sorted(glob.glob(os.path.join(runs, "*", os.path.basename(folder), name)))
  for candidate in [mine] + (siblings if share else []):
    if finished_with(candidate, config):
      log(f"{name}: read back from {candidate}")
      return read_back(candidate, trained_now=False)
  train_and_evaluate(config, mine, data=data, log=lambda line: log(f"{name}: {line}"))
  return read_back(mine, trained_now=True)


def location(network: Network, folder: str) -> str:
  """Where ``network`` lies, relative to the experiment folder of the run
  folder ``folder`` (``W/runs/<variant>/seed<k>``)."""
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(folder))))
  return os.path.relpath(os.path.abspath(network.folder), root)


def facts(network: Network, folder: str, what: str) -> dict[str, Any]:
  """The summary fields that say which network a run used: its folder
  (:func:`location`), whether this run trained it, its training seconds and
  test error, and a note for the recipe."""
  where = location(network, folder)
  return {f"{what}_folder": where, f"{what}_trained_now": network.trained_now,
          f"{what}_train_seconds": network.summary["train_seconds"],
          f"{what}_test_error": network.summary["test_error"],
          "note": f"{what} {'trained in this fit' if network.trained_now else 'read back'}: "
                  f"{where}"}
