"""The classical methods of LeCun et al. 1998's table (``convnets.classical``)
against independent references on small data: NumPy least squares and loops,
scikit-learn's PCA, K-means, nearest neighbours and precomputed-kernel SVM."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from convnets import classical
from convnets.classical import knn, linear, pca_quadratic, rbf, ridge, svm, tangent
from convnets.classical.run import fit_and_test, inputs
from convnets.configs import configure
from convnets.configs.default import get_config
from convnets.data import MNIST


@pytest.fixture(scope="module")
def digits(mnist):
  """300 training, 200 validation and 200 test digits, pixels in [0, 1], flattened."""
  take = lambda split, n: (np.asarray(inputs(split.images[:n], "scale")), split.labels[:n])
  return take(mnist.train, 300), take(mnist.valid, 200), take(mnist.test, 200)


def test_ridge_solves_the_normal_equations_and_picks_the_best_ridge_on_validation():
  rng = np.random.default_rng(0)
  f, labels = rng.normal(size=(120, 8)).astype(np.float32), rng.integers(0, 10, 120)
  fv, valid_labels = rng.normal(size=(50, 8)).astype(np.float32), rng.integers(0, 10, 50)
  targets = 2 * np.eye(10)[labels] - 1
  gram = f.astype(np.float64).T @ f / 120
  scale = np.trace(gram) / 8
  errors, solutions = [], []
  for r in ridge.RIDGES:
    w = np.linalg.solve(gram + r * scale * np.eye(8), f.T @ targets / 120)
    solutions.append(w)
    errors.append(np.mean(np.argmax(fv @ w, 1) != valid_labels))
  w, chosen = ridge.fit_ridge(jnp.asarray(f), jnp.asarray(labels), jnp.asarray(fv),
                              jnp.asarray(valid_labels))
  best = int(np.argmin(errors))
  assert chosen == ridge.RIDGES[best]
  every = ridge._solutions(jnp.asarray(f), jnp.asarray(targets, jnp.float32),
                           jnp.asarray(ridge.RIDGES, jnp.float32))
  np.testing.assert_allclose(every, solutions, rtol=1e-3, atol=1e-4)
  np.testing.assert_allclose(w, solutions[best], rtol=1e-3, atol=1e-4)


def test_full_batch_descent_reaches_the_least_squares_units():
  """With the whole set as one batch, descent on the squared error converges
  to least squares: per unit on every example (linear), or on its own two
  classes only (pairwise)."""
  rng = np.random.default_rng(1)
  x = rng.normal(size=(200, 6)).astype(np.float32)
  labels = rng.integers(0, 10, 200)
  xb = np.asarray(linear.with_bias(jnp.asarray(x)))
  kwargs = dict(key=jax.random.key(0), epochs=400, batch_size=200, learning_rate=0.5)
  targets = 2 * np.eye(10, dtype=np.float32)[labels] - 1
  w = linear.train_units(jnp.asarray(xb), jnp.asarray(targets), jnp.ones_like(targets), **kwargs)
  np.testing.assert_allclose(w, np.linalg.lstsq(xb, targets, rcond=None)[0], atol=1e-4)
  pair_targets, mask = linear.pairwise_targets(jnp.asarray(labels))
  w = linear.train_units(jnp.asarray(xb), pair_targets, mask, **kwargs)
  # the masked mean weighs each unit's examples by 1/N: slower, same optimum
  w = linear.train_units(jnp.asarray(xb), pair_targets, mask, **{**kwargs, "epochs": 2000})
  for u, (i, j) in enumerate(itertools.combinations(range(10), 2)):
    rows = (labels == i) | (labels == j)
    reference = np.linalg.lstsq(xb[rows], np.where(labels[rows] == i, 1.0, -1.0), rcond=None)[0]
    np.testing.assert_allclose(w[:, u], reference, atol=2e-3)


def test_least_squares_units_solve_the_normal_equations_of_their_ridge():
  """The closed-form linear classifier: weights (with bias) solving
  (X^T X / N + r m I) w = X^T T / N in float64 for the ridge r it chose."""
  rng = np.random.default_rng(2)
  x, labels = rng.normal(size=(200, 6)).astype(np.float32), rng.integers(0, 10, 200)
  xv, valid_labels = rng.normal(size=(80, 6)).astype(np.float32), rng.integers(0, 10, 80)
  state, chosen = linear.fit_least_squares(jnp.asarray(x), jnp.asarray(labels), jnp.asarray(xv),
                                           jnp.asarray(valid_labels), key=jax.random.key(0))
  xb = np.hstack([x, np.ones((200, 1), np.float32)]).astype(np.float64)
  gram = xb.T @ xb / 200
  reference = np.linalg.solve(gram + chosen["ridge"] * np.trace(gram) / 7 * np.eye(7),
                              xb.T @ (2 * np.eye(10)[labels] - 1) / 200)
  np.testing.assert_allclose(state["w"], reference, atol=1e-4)
  method = classical.METHODS["least_squares"]
  np.testing.assert_array_equal(method.predict(state, jnp.asarray(xv)),
                                np.argmax(np.hstack([xv, np.ones((80, 1))]) @ reference, axis=1))


def test_a_classical_run_fits_only_its_training_subset(mnist, tmp_path):
  data = MNIST(mnist.train.take(400), mnist.valid.take(100), mnist.test.take(100))
  config = configure(get_config(), {"model": classical.config("knn", k_max=3).to_dict(),
                                    "data.preprocess": "scale", "data.train_subset": 150,
                                    "epochs": 1})
  summary = fit_and_test(config, 0, str(tmp_path / "run"), data=data, log=lambda line: None)
  assert summary["train_examples"] == 150 and "150 training digits" in summary["recipe"]
  assert summary["params"] == 150 * (28 * 28 + 1)  # the stored digits and their labels


def test_pairwise_votes_count_each_units_winner():
  rng = np.random.default_rng(2)
  outputs = rng.normal(size=(40, 45)).astype(np.float32)
  scores = np.asarray(linear.pairwise_votes(jnp.asarray(outputs)))
  for n in range(40):
    votes = np.zeros(10)
    for u, (i, j) in enumerate(itertools.combinations(range(10), 2)):
      votes[i if outputs[n, u] > 0 else j] += 1
    assert np.argmax(scores[n]) in np.flatnonzero(votes == votes.max())
    np.testing.assert_allclose(np.floor(scores[n] + 0.5), votes)


def test_nearest_neighbours_match_brute_force_and_scikit_learn(digits):
  (train, labels), _, (test, _) = digits
  distances, index = knn.nearest(jnp.asarray(test), jnp.asarray(train), k=5, chunk=64)
  exact = ((test[:, None, :].astype(np.float64) - train[None]) ** 2).sum(-1)
  np.testing.assert_array_equal(index, np.argsort(exact, axis=1, kind="stable")[:, :5])
  np.testing.assert_allclose(distances, np.sort(exact, axis=1)[:, :5], rtol=1e-4, atol=1e-3)
  one = KNeighborsClassifier(n_neighbors=1).fit(train, labels).predict(test)
  np.testing.assert_array_equal(knn.vote(jnp.asarray(labels)[index], 1), one)


def test_vote_takes_the_majority_and_breaks_ties_by_the_nearest():
  neighbours = jnp.array([[3, 1, 1, 2], [4, 5, 5, 4], [7, 8, 9, 6], [2, 2, 0, 0]])
  np.testing.assert_array_equal(knn.vote(neighbours, 3), [1, 5, 7, 2])
  np.testing.assert_array_equal(knn.vote(neighbours, 4), [1, 4, 7, 2])
  np.testing.assert_array_equal(knn.vote(neighbours, 1), [3, 4, 7, 2])


def test_knn_chooses_k_by_the_validation_error(digits):
  (train, labels), (valid, valid_labels), _ = digits
  state, chosen = knn.fit_knn(jnp.asarray(train), jnp.asarray(labels), jnp.asarray(valid),
                              jnp.asarray(valid_labels), key=jax.random.key(0), k_max=6)
  order = np.argsort(((valid[:, None] - train[None]) ** 2).sum(-1), axis=1, kind="stable")
  errors = [np.mean(np.asarray(knn.vote(jnp.asarray(labels[order]), k)) != valid_labels)
            for k in range(1, 7)]
  assert chosen["k"] == 1 + int(np.argmin(errors))


def test_pca_spans_scikit_learns_components_and_the_quadratic_expansion(digits):
  (train, _), _, _ = digits
  mean, directions = pca_quadratic.fit_pca(jnp.asarray(train), 10)
  reference = PCA(n_components=10).fit(train.astype(np.float64))
  np.testing.assert_allclose(mean, reference.mean_, atol=1e-6)
  # Each direction up to its sign.
  np.testing.assert_allclose(np.abs(np.sum(np.asarray(directions).T * reference.components_, 1)),
                             np.ones(10), atol=1e-3)
  z = np.random.default_rng(3).normal(size=(4, 5)).astype(np.float32)
  features = np.asarray(pca_quadratic.quadratic_features(jnp.asarray(z)))
  expected = [[1.0, *row, *(row[i] * row[j] for i in range(5) for j in range(i, 5))]
              for row in z]
  np.testing.assert_allclose(features, expected, rtol=1e-6)
  assert pca_quadratic.quadratic_features(jnp.zeros((1, 40))).shape == (1, 861)


def test_lloyd_matches_scikit_learns_kmeans():
  rng = np.random.default_rng(4)
  points = np.concatenate([rng.normal(c, 0.3, size=(60, 3)) for c in (0, 3, 6, 9)])
  start = points[[0, 1, 60, 130, 200]].astype(np.float32)
  centres, spread = rbf.lloyd(jnp.asarray(points, jnp.float32), jnp.asarray(start),
                              iterations=50)
  reference = KMeans(5, init=start.astype(np.float64), n_init=1, max_iter=50, tol=0,
                     algorithm="lloyd").fit(points)
  np.testing.assert_allclose(centres, reference.cluster_centers_, atol=1e-4)
  assigned = reference.labels_
  own = [np.mean(np.sum((points[assigned == c] - reference.cluster_centers_[c]) ** 2, 1))
         for c in range(5)]
  np.testing.assert_allclose(spread, own, rtol=1e-3)


def test_two_sided_tangent_distance_is_the_least_squares_residual(digits):
  (train, _), _, _ = digits
  images = np.asarray(inputs(np.asarray(digits[0][0] * 255, np.uint8).reshape(-1, 28, 28)[:6],
                             "scale_down16"))
  t = np.asarray(tangent.tangents(jnp.asarray(images.reshape(-1, 16, 16)), sigma=0.9))
  x, y = images[:2], images[2:6].reshape(2, 2, 256)
  t_x, t_y = t[:2], t[2:6].reshape(2, 2, 7, 256)
  got = np.asarray(tangent.two_sided(jnp.asarray(x), jnp.asarray(t_x), jnp.asarray(y),
                                     jnp.asarray(t_y), spring=0.05))
  for q, c in itertools.product(range(2), range(2)):
    a = np.concatenate([t_x[q].T, -t_y[q, c].T], axis=1).astype(np.float64)   # (D, 14)
    r = (y[q, c] - x[q]).astype(np.float64)
    stacked = np.concatenate([a, np.sqrt(0.05) * np.eye(14)])
    amounts = np.linalg.lstsq(stacked, np.concatenate([r, np.zeros(14)]), rcond=None)[0]
    residual = np.sum((r - a @ amounts) ** 2) + 0.05 * np.sum(amounts ** 2)
    assert got[q, c] == pytest.approx(residual, rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("sigma", tangent.SMOOTHINGS)
def test_tangent_vectors_are_the_derivatives_along_each_transformation(sigma):
  """Each geometric tangent against a finite difference of the smoothed image
  moved a little along that transformation (bicubic resampling by SciPy),
  up to the sign convention; thickening as the squared gradient."""
  from scipy import ndimage

  rows, cols = np.mgrid[0:16, 0:16].astype(np.float64)
  blob = np.exp(-((rows - 7) ** 2 / 8 + (cols - 8.5) ** 2 / 3 + (rows - 7) * (cols - 8.5) / 4))
  g = tangent.gaussian_matrix(16, sigma).astype(np.float64)
  smooth = g @ blob @ g.T
  got = np.asarray(tangent.tangents(jnp.asarray(blob[None], jnp.float32), sigma))[0]
  x, y = cols - 7.5, rows - 7.5
  fields = [(1, 0), (0, 1), (-y, x), (x, y), (x, -y), (y, x)]  # displacement (dx, dy)
  eps = 1e-3
  for k, (dx, dy) in enumerate(fields):
    moved = ndimage.map_coordinates(smooth, [rows - eps * dy * np.ones_like(rows),
                                             cols - eps * dx * np.ones_like(cols)], order=3,
                                    mode="nearest")
    numeric = ((moved - smooth) / eps).ravel()
    cosine = abs(numeric @ got[k]) / (np.linalg.norm(numeric) * np.linalg.norm(got[k]))
    assert cosine > 0.98, tangent.TRANSFORMATIONS[k]
  i_y, i_x = np.gradient(smooth)
  np.testing.assert_allclose(got[6], (i_x ** 2 + i_y ** 2).ravel(), rtol=1e-4, atol=1e-6)


def test_tangent_distance_ignores_a_small_shift_that_the_euclidean_does_not(digits):
  image = np.asarray(inputs(np.asarray(digits[0][0][:1] * 255, np.uint8).reshape(1, 28, 28),
                            "scale_down16")).reshape(1, 16, 16)
  half = 0.5 * (image + np.roll(image, 1, axis=2))  # half a pixel to the right, to first order
  t = tangent.tangents(jnp.asarray(np.concatenate([image, half])), sigma=0.5)
  distance = tangent.two_sided(jnp.asarray(image.reshape(1, 256)), t[:1],
                               jnp.asarray(half.reshape(1, 1, 256)), t[1:].reshape(1, 1, 7, 256))
  euclidean = np.sum((image - half) ** 2)
  assert float(distance[0, 0]) < 0.5 * euclidean


def test_tangent_fit_chooses_the_smoothing_and_k_by_the_validation_error(digits):
  """With every stored digit a candidate, the chosen (smoothing, K) is the
  first with the lowest validation error of the tangent distances solved
  here in float64 for every pair, smoothings before K."""
  down = lambda split: np.asarray(inputs(np.asarray(split * 255, np.uint8).reshape(-1, 28, 28),
                                         "scale_down16"))
  (train, labels), (valid, valid_labels), _ = digits
  train, valid = down(train)[:120], down(valid)[:80]
  labels, valid_labels = labels[:120], valid_labels[:80]
  _, chosen = tangent.fit_tangent(jnp.asarray(train), jnp.asarray(labels), jnp.asarray(valid),
                                  jnp.asarray(valid_labels), key=jax.random.key(0),
                                  candidates=120, k_max=3)
  errors = []
  for sigma in tangent.SMOOTHINGS:
    t = np.asarray(tangent.tangents(jnp.asarray(np.concatenate([valid, train]).reshape(
        -1, 16, 16)), sigma), np.float64)
    t_x, t_y = t[:80], t[80:]
    distance = np.empty((80, 120))
    for q, c in itertools.product(range(80), range(120)):
      a = np.concatenate([t_x[q].T, -t_y[c].T], axis=1)
      r = train[c].astype(np.float64) - valid[q]
      amounts = np.linalg.solve(a.T @ a + tangent.SPRING * np.eye(14), a.T @ r)
      distance[q, c] = r @ r - amounts @ (a.T @ r)
    order = np.argsort(distance, axis=1, kind="stable")
    errors += [np.mean(np.asarray(knn.vote(jnp.asarray(labels[order]), k)) != valid_labels)
               for k in (1, 2, 3)]
  best = int(np.argmin(errors))
  assert (chosen["smoothing"], chosen["k"]) == (tangent.SMOOTHINGS[best // 3], 1 + best % 3)
  assert len(set(errors)) > 1


def test_svm_kernel_is_the_documented_polynomial(digits):
  """Our SVM predicts as scikit-learn's does with the kernel (gamma x.y + 1)^d
  computed here by hand and passed precomputed."""
  (train, labels), _, (test, _) = digits
  state, chosen = svm.fit_svm(jnp.asarray(train), jnp.asarray(labels), None, None,
                              key=jax.random.key(0), degree=3)
  g = 1.0 / (train.shape[1] * np.var(train))
  kernel = lambda a, b: (g * a.astype(np.float64) @ b.T.astype(np.float64) + 1) ** 3
  reference = SVC(C=svm.C, kernel="precomputed").fit(kernel(train, train), labels)
  agree = np.mean(np.asarray(svm.predict_svm(state, jnp.asarray(test)))
                  == reference.predict(kernel(test, train)))
  assert agree >= 0.99
  # Nothing is chosen on validation; the support vectors are a fact of the fit.
  count = len(reference.support_)
  assert chosen == {} and abs(state["summary"]["support_vectors"] - count) <= count // 50
  assert state["summary"]["note"] == f"support vectors {state['summary']['support_vectors']:,}"


def test_one_pixel_shifts_and_the_reduced_set():
  image = np.arange(16, dtype=np.float32).reshape(1, 16) + 1
  moved = np.asarray(svm.shifted(jnp.asarray(image), 4)).reshape(4, 4, 4)
  square = image.reshape(4, 4)
  expect = [np.pad(square, ((0, 0), (0, 1)))[:, 1:], np.pad(square, ((0, 0), (1, 0)))[:, :-1],
            np.pad(square, ((0, 1), (0, 0)))[1:], np.pad(square, ((1, 0), (0, 0)))[:-1]]
  np.testing.assert_array_equal(moved, expect)
  rng = np.random.default_rng(5)
  vectors, labels = rng.normal(size=(53, 4)), np.repeat([0, 1, 2], [20, 21, 12])
  centres, classes = svm.reduce_vectors(vectors, labels, 5, jax.random.key(0))
  np.testing.assert_array_equal(classes, np.repeat([0, 1, 2], [4, 5, 3]))
  assert centres.shape == (12, 4)


def test_method_settings_are_checked():
  assert classical.config("knn", k_max=4).k_max == 4
  with pytest.raises(ValueError, match="has no setting 'k'"):
    classical.config("knn", k=3)
  with pytest.raises(ValueError, match="should be like its default"):
    classical.config("svm", degree="four")
  with pytest.raises(ValueError, match="unknown classical method 'kn'; did you mean knn"):
    classical.hyperparameters("kn")
  assert "epochs" not in classical.hyperparameters("linear") and classical.takes_epochs("linear")
