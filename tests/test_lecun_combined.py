"""LeCun et al. 1998's combined rows (``convnets.classical``: local learning,
LeNet-4's features, boosting by filtering) against independent references
on small data: a NumPy loop of per-query ridge fits, the model's own forward
pass, hand-made streams with stub classifiers, and the runner's path of two
rows sharing one trained network."""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from convnets import classical, models
from convnets.classical import boosting, local, networks
from convnets.classical.run import fit_and_test
from convnets.configs import configure
from convnets.configs.default import get_config
from convnets.data import MNIST
from experiments import get


def local_reference(queries, stored, labels, k, ridge):
  """Per query, in a loop: its ``k`` nearest stored vectors by sorting the
  distances, a linear map with bias fitted to their +-1 one-hot targets by
  the primal normal equations (the bias not penalised), applied to the query."""
  outputs = []
  for q in queries.astype(np.float64):
    near = np.argsort(((stored - q) ** 2).sum(1), kind="stable")[:k]
    x, t = stored[near].astype(np.float64), 2 * np.eye(10)[labels[near]] - 1
    a = np.hstack([x, np.ones((k, 1))])
    centred = x - x.mean(0)
    penalty = ridge * (centred ** 2).sum() / k * np.diag([1.0] * x.shape[1] + [0.0])
    theta = np.linalg.solve(a.T @ a + penalty, a.T @ t)
    outputs.append(np.append(q, 1.0) @ theta)
  return np.array(outputs)


@pytest.mark.parametrize("k", [3, 9])  # fewer and more neighbours than dimensions
def test_local_learning_is_a_ridge_fit_per_query(k):
  rng = np.random.default_rng(0)
  stored = rng.normal(size=(60, 5)).astype(np.float32)
  labels = rng.integers(0, 10, 60)
  queries = rng.normal(size=(13, 5)).astype(np.float32)
  ridges = (1e-2, 1.0)
  _, index = local.nearest(jnp.asarray(queries), jnp.asarray(stored), k=k)
  targets = local.one_hot_targets(jnp.asarray(labels)[index])
  predicted = local.predict_local_all(jnp.asarray(queries), jnp.asarray(stored),
                                      jnp.asarray(labels), jnp.asarray(ridges), neighbours=k,
                                      chunk=4)
  for r, row in zip(ridges, predicted):
    expected = local_reference(queries, stored, labels, k, r)
    got = local.local_outputs(jnp.asarray(queries), jnp.asarray(stored)[index], targets, r)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(row, expected.argmax(1))


def test_local_learning_chooses_k_and_ridge_on_validation():
  rng = np.random.default_rng(1)
  centres = rng.normal(size=(10, 4)) * 3
  train_labels, valid_labels = rng.integers(0, 10, 80), rng.integers(0, 10, 30)
  train = (centres[train_labels] + rng.normal(size=(80, 4))).astype(np.float32)
  valid = (centres[valid_labels] + rng.normal(size=(30, 4))).astype(np.float32)
  grid_k, grid_r = (2, 7), (1e-3, 10.0)
  state, chosen = local.fit_local(jnp.asarray(train), jnp.asarray(train_labels),
                                  jnp.asarray(valid), jnp.asarray(valid_labels),
                                  neighbours=grid_k, ridges=grid_r)
  errors = {(k, r): np.mean(local_reference(valid, train, train_labels, k, r).argmax(1)
                            != valid_labels) for k in grid_k for r in grid_r}
  assert (chosen["k"], chosen["ridge"]) == min(errors, key=errors.get)
  assert len(set(errors.values())) > 1  # the choice is not a tie of all four
  np.testing.assert_array_equal(local.predict_local(state, jnp.asarray(valid)),
                                local_reference(valid, train, train_labels, chosen["k"],
                                                chosen["ridge"]).argmax(1))


def test_penultimate_features_are_what_the_output_layer_reads(monkeypatch):
  model = models.create("lenet4")
  x = jax.random.normal(jax.random.key(0), (6, 32, 32, 1))
  variables = model.init(jax.random.key(1), x)
  features = networks.penultimate(model, variables, x)
  out = variables["params"]["output"]
  assert features.shape == (6, 120)
  np.testing.assert_allclose(features @ out["kernel"] + out["bias"], model.apply(variables, x),
                             rtol=1e-5, atol=1e-5)
  monkeypatch.setattr(networks, "CHUNK", 3)  # two chunks
  net = networks.Network(model=model, variables=variables, shape=(32, 32, 1),
                         preprocess=lambda images: images, folder="", summary={},
                         trained_now=True)
  np.testing.assert_allclose(net.outputs(x.reshape(6, -1), features=True), features,
                             rtol=1e-5, atol=1e-5)


def stream(*labels):
  """Batches whose images are the examples' positions in the stream (so
  that a stub classifier can tell them apart) and the given labels."""
  start = np.cumsum([0] + [len(l) for l in labels])
  return [(np.arange(s, s + len(l)), np.asarray(l)) for s, l in zip(start, labels)]


def test_net_two_sees_the_first_right_and_wrong_examples_half_and_half():
  wrong_on = {1, 4, 5, 9}                   # the stub gets these positions wrong
  stub = lambda images: np.array([-1 if i in wrong_on else 7 for i in images])
  batches = stream([7, 7, 7, 7], [7, 7, 7, 7], [7, 7, 7, 7])
  (images, labels), read = boosting.half_right_half_wrong(iter(batches), stub, 6)
  # Three right (0, 2, 3) and three wrong (1, 4, 5): full after the second batch.
  assert images.tolist() == [0, 2, 3, 1, 4, 5] and read == 8
  assert labels.tolist() == [7] * 6
  # Ten asked for: five right, but only four wrong in the whole stream, so four of each.
  (images, _), read = boosting.half_right_half_wrong(iter(batches), stub, 10)
  assert images.tolist() == [0, 2, 3, 6, 1, 4, 5, 9] and read == 12


def test_net_three_sees_where_the_first_two_disagree():
  first = lambda images: images % 3
  second = lambda images: np.where(images % 4 == 0, 9, images % 3)
  batches = stream([1] * 5, [2] * 5, [3] * 5)
  (images, labels), read = boosting.disagreements(iter(batches), first, second, 3)
  assert images.tolist() == [0, 4, 8] and labels.tolist() == [1, 1, 2] and read == 10


def test_the_filtering_stream_distorts_every_digit_afresh_in_each_pass(mnist):
  split = mnist.train.take(6)
  calls = []
  augment = lambda key, images: calls.append(key) or images + 1
  passes = list(boosting.distorted_passes(jax.random.key(0), split, augment, passes=2))
  assert len(passes) == 2 and all(len(labels) == 6 for _, labels in passes)
  np.testing.assert_array_equal(passes[1][0], split.images + 1)
  assert not np.array_equal(jax.random.key_data(calls[0]), jax.random.key_data(calls[1]))


def test_two_rows_share_one_trained_network(mnist, tmp_path):
  """The runner's path: the K-NN row trains LeNet-4 into its run folder; the
  local-learning row of the same seed reads that network back."""
  experiment = get("lecun1998")
  data = MNIST(mnist.train.take(200), mnist.valid.take(100), mnist.test.take(100))
  shared = configure(get_config(), dict(experiment.overrides))
  summaries = {}
  for name in ("lenet4-knn", "lenet4-local"):
    variant = next(v for v in experiment.variants if v.name == name)
    config = configure(shared, {**variant.overrides, "epochs": 1, "pictures": False})
    folder = str(tmp_path / "runs" / name / "seed0")
    summaries[name] = fit_and_test(config, 0, folder, data=data, log=lambda line: None)
  knn, near = summaries["lenet4-knn"], summaries["lenet4-local"]
  assert knn["network_trained_now"] and not near["network_trained_now"]
  assert knn["network_folder"] == near["network_folder"] == "runs/lenet4-knn/seed0/network"
  assert "network read back: runs/lenet4-knn/seed0/network" in near["recipe"]
  assert not os.path.exists(tmp_path / "runs" / "lenet4-local" / "seed0" / "network")
  with open(tmp_path / knn["network_folder"] / "summary.json") as f:
    assert json.load(f)["test_error"] == knn["network_test_error"]
  assert 0 <= near["test_error"] < 0.9 and "k" in near["chosen"] and "ridge" in near["chosen"]
  assert set(classical.hyperparameters("lenet_local")) == {"network", "activation", "pooling",
                                                           "weight_init"}


def test_boosting_adds_the_three_nets_softmax_outputs():
  class Net:  # a stub: the same logits for every input
    def __init__(self, logits):
      self.logits = jnp.asarray([logits], jnp.float32)

    def outputs(self, x):
      return jnp.repeat(self.logits, x.shape[0], axis=0)

  nets = [Net([10.0, 0.0]), Net([0.0, 3.0]), Net([0.0, 3.0])]
  # Probabilities: [1, 0] + 2 x [0.05, 0.95] favour class 1; the logits' sum, [10, 6], class 0.
  assert boosting.predict_boosted({"nets": nets}, jnp.zeros((2, 4))).tolist() == [1, 1]
