"""Pure array functions: the lecture's operations, with no parameters held.

Everything here maps arrays to arrays and is safe under ``jit``, ``grad`` and
``vmap``; the Flax layers in :mod:`convnets.layers` only hold parameters and
call these.
"""

from convnets.ops.activations import ACTIVATIONS, get_activation, lecun_tanh
from convnets.ops.conv import IMPLS, MODES, auto_impl, conv2d, flip_kernel
from convnets.ops.conv_pool import conv2d_max_pool
from convnets.ops.windows import extract_patches
from convnets.ops.dense import dense
from convnets.ops.losses import accuracy, softmax_cross_entropy
from convnets.ops.pool import KINDS, pool2d

__all__ = [
    "ACTIVATIONS", "IMPLS", "KINDS", "MODES", "accuracy", "auto_impl", "conv2d",
    "conv2d_max_pool",    "dense", "extract_patches", "flip_kernel", "get_activation", "lecun_tanh",
    "pool2d", "softmax_cross_entropy",
]
