"""The model registry; importing this package registers every model."""

from convnets.models import convnet, lenet, mlp, resnet  # noqa: F401  (registers the models)
from convnets.models.registry import (build, config, create, default_preprocess, describe,
                                      hyperparameters, names, register, settings)

__all__ = ["build", "config", "create", "default_preprocess", "describe", "hyperparameters",
           "names", "register", "settings"]
