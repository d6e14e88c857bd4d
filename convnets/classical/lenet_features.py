"""LeNet-4's features under other classifiers: LeCun et al. 1998, Section
III.C.10 ("LeNet-4 with K-Nearest Neighbors"): "the last layer of LeNet-4
was replaced with a Euclidean nearest neighbor classifier", and "a local
learning method of Bottou and Vapnik, in which a local linear classifier is
retrained each time a new test pattern is shown" ("LeNet-4 / K-NN", "LeNet-4
/ local learning").

``fit`` trains the network (:mod:`convnets.classical.networks`; the two rows
share one trained network per seed, the second reading back the first's),
maps the training, validation and test inputs to its penultimate layer (the
120 C5 units feeding LeNet-4's output layer), and fits K-NN
(:mod:`convnets.classical.knn`) or local learning
(:mod:`convnets.classical.local`) on those features, their choices made on
the validation features.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
from ml_collections import ConfigDict

from convnets.classical import knn, local, networks
from convnets.data import Dataset

NETWORK = "network"  # the network's folder in the run folder


def fit_on_features(classifier: Callable[..., tuple[dict[str, Any], dict[str, Any]]],
                    train: jax.Array, labels: jax.Array, valid: jax.Array,
                    valid_labels: jax.Array, *, config: ConfigDict, data: Dataset, folder: str,
                    log: networks.Log, key: jax.Array, model: dict[str, Any]
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
  """The network ``model`` trained (or shared), then ``classifier(train
  features, labels, valid features, valid labels, key=key)``; inputs are
  flattened model inputs ``(N, D)``."""
  network = networks.trained(networks.network_config(config, int(config.seed), **model),
                             data=data, folder=folder, name=NETWORK, log=log, share=True)
  state, chosen = classifier(network.outputs(train, features=True), labels,
                             network.outputs(valid, features=True), valid_labels, key=key)
  return ({"network": network, "variables": network.variables, "classifier": state,
           "summary": networks.facts(network, folder, NETWORK)}, chosen)


def fit_lenet_knn(train: jax.Array, labels: jax.Array, valid: jax.Array, valid_labels: jax.Array,
                  *, key: jax.Array, config: ConfigDict, data: Dataset, folder: str,
                  log: networks.Log, network: str = "lenet4", activation: str = "lecun_tanh",
                  pooling: str = "trainable", weight_init: str = "paper", k_max: int = knn.K_MAX
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
  """K-NN (K in ``1..k_max`` chosen on validation) on the penultimate
  features of ``network`` (with the given settings), trained under ``config``."""
  classifier = lambda *a, key: knn.fit_knn(*a, key=key, k_max=k_max)
  return fit_on_features(classifier, train, labels, valid, valid_labels, config=config,
                         data=data, folder=folder, log=log, key=key,
                         model=dict(name=network, activation=activation, pooling=pooling,
                                    weight_init=weight_init))


def fit_lenet_local(train: jax.Array, labels: jax.Array, valid: jax.Array,
                    valid_labels: jax.Array, *, key: jax.Array, config: ConfigDict,
                    data: Dataset, folder: str, log: networks.Log, network: str = "lenet4",
                    activation: str = "lecun_tanh", pooling: str = "trainable",
                    weight_init: str = "paper") -> tuple[dict[str, Any], dict[str, Any]]:
  """Local learning (K and the ridge chosen on validation) on the
  penultimate features of ``network``, trained under ``config``."""
  classifier = lambda *a, key: local.fit_local(*a)
  return fit_on_features(classifier, train, labels, valid, valid_labels, config=config,
                         data=data, folder=folder, log=log, key=key,
                         model=dict(name=network, activation=activation, pooling=pooling,
                                    weight_init=weight_init))


def predict_lenet_knn(state: dict[str, Any], x: jax.Array) -> jax.Array:
  return knn.predict_knn(state["classifier"], state["network"].outputs(x, features=True))


def predict_lenet_local(state: dict[str, Any], x: jax.Array) -> jax.Array:
  return local.predict_local(state["classifier"], state["network"].outputs(x, features=True))
