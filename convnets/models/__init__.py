"""The model registry; importing this package registers every model."""

# Registration order is the order models are listed in.
from convnets.models import convnet, mlp, lenet, resnet  # noqa: F401, I001  (registers them)
from convnets.models.registry import (build, config, create, default_preprocess, describe,
                                      hyperparameters, names, register, settings)

__all__ = ["build", "config", "create", "default_preprocess", "describe", "hyperparameters",
           "names", "register", "settings"]
