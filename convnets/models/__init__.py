"""The model registry; importing this package registers every model."""

from convnets.models import convnet, mlp  # noqa: F401  (registers the models)
from convnets.models import lenet  # noqa: F401  (registers the models)
from convnets.models import resnet  # noqa: F401  (registers the models)
from convnets.models.registry import create, describe, hyperparameters, names, register

__all__ = ["create", "describe", "hyperparameters", "names", "register"]
