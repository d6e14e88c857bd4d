"""convnets: convolutional networks on MNIST in JAX, after MLP Lecture 7.

Layout: ``ops`` (pure array functions), ``layers`` (Flax wrappers),
``models`` (registry), ``data`` (sources, device batching, transforms),
``train`` (steps, loop, outputs), ``configs`` (hyperparameters).
"""
