"""The classical (non-neural) rows of LeCun et al. 1998's MNIST table (Fig. 9,
Section V.A) as pure JAX functions, registered by name like the models.

A method is ``fit(train (N, D), labels (N,), valid (M, D), valid_labels (M,),
*, key, **settings) -> (state, chosen)`` and ``predict(state, x (Q, D)) ->
(Q,)`` labels, on flattened images; its settings are ``fit``'s keyword
arguments after ``key`` but those of ``CONTEXT``, which the run passes to a
``fit`` that declares them: ``epochs``, the passes of the methods trained
by gradient descent (the config's own ``epochs``); ``config`` (the run's
config, its ``seed`` the run's), ``data`` (the :class:`~convnets.data.Dataset`),
``folder`` (the run folder) and ``log``, for the methods that train
networks (:mod:`convnets.classical.networks`). A ``state`` may hold
``"summary"``, fields added to the run's ``summary.json`` (its ``"note"``
to the recipe). A config's ``model`` section names a method (``name``) and
sets its settings, as it does a model's; :mod:`convnets.classical.run` fits
and tests it. This module imports nothing heavy beyond JAX.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from typing import Any, Callable, Mapping

from ml_collections import ConfigDict

from convnets.classical import (boosting, knn, lenet_features, linear, pca_quadratic, rbf, svm,
                                tangent)

# What the run passes to a fit that declares it (not a setting).
CONTEXT = ("key", "epochs", "config", "data", "folder", "log")


@dataclasses.dataclass(frozen=True)
class Method:
  """A registered classical method.

  Attributes:
    fit, predict: see the module docstring.
    stochastic: its result depends on the seed (run over every seed), else one seed.
    description: one line for tables.
  """
  fit: Callable[..., tuple[dict[str, Any], dict[str, Any]]]
  predict: Callable[..., Any]
  stochastic: bool
  description: str


METHODS: dict[str, Method] = {
    "linear": Method(linear.fit_linear, linear.predict_linear, True,
                     "10 linear units on the pixels, SGD on the squared error"),
    "least_squares": Method(linear.fit_least_squares, linear.predict_linear, False,
                            "10 linear units at the squared error's minimum (least squares)"),
    "pairwise": Method(linear.fit_pairwise, linear.predict_pairwise, True,
                       "45 one-against-one linear units, SGD on the squared error, voting"),
    "knn": Method(knn.fit_knn, knn.predict_knn, False,
                  "K nearest neighbours, Euclidean, K chosen on the validation split"),
    "pca_quadratic": Method(pca_quadratic.fit_pca_quadratic,
                            pca_quadratic.predict_pca_quadratic, False,
                            "PCA, then a linear classifier on the components and their products"),
    "rbf": Method(rbf.fit_rbf, rbf.predict_rbf, True,
                  "Gaussian units on per-class K-means centres, linear layer by ridge"),
    "tangent": Method(tangent.fit_tangent, tangent.predict_tangent, False,
                      "K nearest neighbours by two-sided tangent distance"),
    "svm": Method(svm.fit_svm, svm.predict_svm, False, "polynomial-kernel SVM, one against one"),
    "rs_svm": Method(svm.fit_rs_svm, svm.predict_svm, True,
                     "polynomial SVM refitted on K-means centres of its support vectors"),
    "v_svm": Method(svm.fit_v_svm, svm.predict_svm, False,
                    "polynomial SVM retrained on its support vectors and their 1-pixel shifts"),
    "lenet_knn": Method(lenet_features.fit_lenet_knn, lenet_features.predict_lenet_knn, True,
                        "K nearest neighbours on a trained network's penultimate features"),
    "lenet_local": Method(lenet_features.fit_lenet_local, lenet_features.predict_lenet_local,
                          True, "local learning (a ridge-regression linear classifier fitted to "
                          "each query's nearest neighbours) on a trained network's features"),
    "boosted": Method(boosting.fit_boosted, boosting.predict_boosted, True,
                      "three networks boosted by filtering (Drucker et al.), outputs summed"),
}


def is_method(name: str) -> bool:
  """Whether ``name`` is a registered classical method (not a model)."""
  return name in METHODS


def hyperparameters(name: str) -> dict[str, Any]:
  """Method ``name``'s settings and their defaults."""
  if name not in METHODS:
    close = difflib.get_close_matches(name, list(METHODS), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ValueError(f"unknown classical method {name!r}; {hint}known: {', '.join(METHODS)}")
  parameters = inspect.signature(METHODS[name].fit).parameters.values()
  return {p.name: p.default for p in parameters
          if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in CONTEXT}


def check(section: Mapping[str, Any]) -> None:
  """ValueError naming the first setting of a ``model`` section that method
  ``section["name"]`` does not have, or whose type differs from its default's."""
  accepted = hyperparameters(section["name"])
  for key, value in section.items():
    if key == "name":
      continue
    if key not in accepted:
      raise ValueError(f"classical method {section['name']!r} has no setting {key!r}; its "
                       f"settings: {', '.join(accepted) or 'none'}")
    default = accepted[key]
    if isinstance(value, bool) or not isinstance(value, (type(default), int)):
      raise ValueError(f"classical method {section['name']!r}: setting {key}={value!r} should "
                       f"be like its default {default!r}")


def takes(name: str, argument: str) -> bool:
  """Whether method ``name``'s fit declares ``argument`` (one of ``CONTEXT``)."""
  return argument in inspect.signature(METHODS[name].fit).parameters


def takes_epochs(name: str) -> bool:
  """Whether method ``name`` trains for ``config.epochs`` passes."""
  return takes(name, "epochs")


def config(name: str, **settings: Any) -> ConfigDict:
  """The ``model`` section for method ``name``: its name and every setting,
  those given in ``settings`` set (each checked)."""
  section = {"name": name, **hyperparameters(name), **settings}
  check(section)
  return ConfigDict(section)
