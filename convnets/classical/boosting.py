"""Boosted LeNet-4 (LeCun et al. 1998, Section III.C.11, after Drucker,
Schapire & Simard 1993): "three LeNet-4s are combined: the first one is
trained the usual way. The second one is trained on patterns that are
filtered by the first net so that the second machine sees a mix of patterns,
50% of which the first net got right, and 50% of which it got wrong.
Finally, the third net is trained on new patterns on which the first and the
second nets disagree. During testing, the outputs of the three nets are
simply added. Because the error rate of LeNet-4 is very low, it was
necessary to use the artificially distorted images ... in order to get
enough samples to train the second and third nets."

Net 1 trains under the run's config (its distortions, ``augment``, drawn
afresh every epoch). The stream that nets 2 and 3 are filtered from is the
training digits distorted by the same augmentation, one fresh draw of every
digit per pass (:func:`distorted_passes`), at most ``passes`` passes; the
filtered sets are fixed and train nets 2 and 3 without further distortion.
The test output is the sum of the three nets' softmax outputs. Each net's
run lies in the run folder (``net1``, ``net2``, ``net3``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from convnets.classical import networks
from convnets.data import Dataset, Split

Batch = tuple[np.ndarray, np.ndarray]          # images (N, 28, 28) uint8, labels (N,)
Classify = Callable[[np.ndarray], np.ndarray]  # images -> (N,) predicted classes
CHUNK = 5_000  # digits distorted at a time


def distorted_passes(key: jax.Array, split: Split, augment: Callable[..., jax.Array],
                     passes: int) -> Iterator[Batch]:
  """Up to ``passes`` passes over ``split``, each digit freshly distorted by
  ``augment(key, images)`` in every pass, ``CHUNK`` digits a batch."""
  for p in range(passes):
    for i in range(0, len(split), CHUNK):
      images = split.images[i:i + CHUNK]
      chunk_key = jax.random.fold_in(jax.random.fold_in(key, p), i)
      yield np.asarray(augment(chunk_key, jnp.asarray(images))), split.labels[i:i + CHUNK]


def collect(batches: Iterable[Batch], groups: Callable[[np.ndarray, np.ndarray],
                                                       Sequence[np.ndarray]],
            size: int) -> tuple[list[Batch], int]:
  """From the stream ``batches``, the first ``size`` examples of each group,
  ``groups(images, labels)`` giving one boolean mask ``(N,)`` per group; the
  stream is read until every group is full or it ends. Returns each group's
  examples and how many examples were read."""
  found: list[list[Batch]] = []
  read = 0
  for images, labels in batches:
    masks = groups(images, labels)
    found = found or [[] for _ in masks]
    for kept, mask in zip(found, masks):
      room = size - sum(len(l) for _, l in kept)
      index = np.flatnonzero(mask)[:max(room, 0)]
      kept.append((images[index], labels[index]))
    read += len(labels)
    if all(sum(len(l) for _, l in kept) >= size for kept in found):
      break
  return [(np.concatenate([i for i, _ in kept]), np.concatenate([l for _, l in kept]))
          for kept in found], read


def half_right_half_wrong(batches: Iterable[Batch], classify: Classify, size: int
                          ) -> tuple[Batch, int]:
  """Net 2's training set: ``size // 2`` examples ``classify`` gets right and
  as many it gets wrong, the first in the stream; if the stream holds fewer
  wrong ones, as many right ones as wrong ones found (the mix stays 50/50).
  Returns the examples (right ones first) and how many were read."""
  def right_wrong(images: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    correct = classify(images) == labels
    return [correct, ~correct]

  (right, wrong), read = collect(batches, right_wrong, size // 2)
  n = min(len(right[1]), len(wrong[1]))
  return (np.concatenate([right[0][:n], wrong[0][:n]]),
          np.concatenate([right[1][:n], wrong[1][:n]])), read


def disagreements(batches: Iterable[Batch], first: Classify, second: Classify, size: int
                  ) -> tuple[Batch, int]:
  """Net 3's training set: the first ``size`` examples of the stream on which
  ``first`` and ``second`` predict different classes; and how many were read."""
  (chosen,), read = collect(batches, lambda images, _: [first(images) != second(images)], size)
  return chosen, read


def filtered(data: Dataset, batch: Batch) -> Dataset:
  """``data`` with ``batch`` as its training split."""
  return dataclasses.replace(data, train=Split(batch[0], batch[1].astype(np.int32)))


def fit_boosted(train: jax.Array, labels: jax.Array, valid: jax.Array, valid_labels: jax.Array,
                *, key: jax.Array, config: ConfigDict, data: Dataset, folder: str,
                log: networks.Log, network: str = "lenet4", activation: str = "lecun_tanh",
                pooling: str = "trainable", weight_init: str = "paper", size: int = 10_000,
                passes: int = 20) -> tuple[dict[str, Any], dict[str, Any]]:
  """The three nets (``network`` with the given settings), nets 2 and 3 on
  sets of up to ``size`` filtered examples from at most ``passes``
  distorted passes over ``data.train`` each; ``train`` and ``valid`` (the
  flattened inputs) are not used: the nets read ``data``."""
  from convnets.data.augment import make_augmentation

  del train, labels, valid, valid_labels
  model = dict(name=network, activation=activation, pooling=pooling, weight_init=weight_init)
  first_config = networks.network_config(config, int(config.seed), **model)
  plain = first_config.copy_and_resolve_references()
  plain.augment.name = "none"
  augment = make_augmentation(first_config.augment)
  stream = lambda k: distorted_passes(k, data.train, augment, passes)
  key_2, key_3 = jax.random.split(key)
  net_1 = networks.trained(first_config, data=data, folder=folder, name="net1", log=log)
  set_2, read_2 = half_right_half_wrong(stream(key_2), net_1.classify, size)
  log(f"net2: {len(set_2[1]):,} examples, half of them net 1's errors, from {read_2:,} "
      "distorted digits")
  net_2 = networks.trained(plain, data=filtered(data, set_2), folder=folder, name="net2",
                           log=log)
  set_3, read_3 = disagreements(stream(key_3), net_1.classify, net_2.classify, size)
  log(f"net3: {len(set_3[1]):,} examples where nets 1 and 2 disagree, from {read_3:,} "
      "distorted digits")
  net_3 = networks.trained(plain, data=filtered(data, set_3), folder=folder, name="net3",
                           log=log)
  nets = {f"net{i + 1}": net for i, net in enumerate((net_1, net_2, net_3))}
  summary = {k: v for name, net in nets.items()
             for k, v in networks.facts(net, folder, name).items() if k != "note"}
  summary["note"] = "nets in " + ", ".join(networks.location(net, folder) for net in nets.values())
  return ({"nets": list(nets.values()), "variables": {n: net.variables for n, net in nets.items()},
           "summary": summary},
          {"net2_examples": int(len(set_2[1])), "net2_stream": read_2,
           "net3_examples": int(len(set_3[1])), "net3_stream": read_3})


def predict_boosted(state: dict[str, Any], x: jax.Array) -> jax.Array:
  """The class of the largest sum of the three nets' softmax outputs."""
  return jnp.argmax(sum(jax.nn.softmax(net.outputs(x), axis=-1) for net in state["nets"]),
                    axis=-1)
