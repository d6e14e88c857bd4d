"""An experiment re-asked on another data set: its ranking against MNIST's,
on hand-made results whose answers are known."""

from __future__ import annotations

import json
import os

import pytest

from convnets.experiment import discussion, reasked
from convnets.experiment.spec import Text
from convnets.experiment.values import Grid, Value
from convnets.data.mnist import noun
from convnets.handin.sources import Entry, entries, with_mnist_comparisons
from experiments import translation

RESULTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results")


def results(errors: dict[str, list[float]], data: str | None) -> dict:
  """A results.json of variants with these per-seed test errors, run on ``data``
  (None: recorded before data sets had names)."""
  config = {"data": {"name": data}} if data else {"data_source": "idx"}
  return {"experiment": "pooling", "settings": {"config": config},
          "variants": [{"name": n, "label": n.upper(), "runs": [{"test_error": e} for e in es]}
                       for n, es in errors.items()]}


# On MNIST: a < b < c, with a and c far apart and b near both.
MNIST_ERRORS = {"a": [0.010, 0.011, 0.012], "b": [0.0115, 0.012, 0.0125],
                "c": [0.020, 0.021, 0.022]}
# On the harder set: c < a beyond noise, a and b swapped within noise.
HARD_ERRORS = {"a": [0.101, 0.103, 0.105], "b": [0.100, 0.102, 0.104],
               "c": [0.080, 0.081, 0.082]}


def test_the_data_set_of_old_results_is_mnist():
  assert reasked.dataset(results(MNIST_ERRORS, None)) == "mnist"
  assert reasked.dataset(results(MNIST_ERRORS, "fashion_mnist")) == "fashion_mnist"


def test_data_sets_are_named_as_people_write_them():
  assert reasked.title(results(MNIST_ERRORS, None)) == "MNIST"
  assert reasked.title(results(MNIST_ERRORS, "fashion_mnist")) == "Fashion-MNIST"
  assert reasked.title(results(MNIST_ERRORS, "tfds:cifar10")) == "cifar10"


def test_examples_are_digits_on_mnist_only():
  assert [noun(name) for name in ("mnist", "tfds:mnist", "fashion_mnist", "tfds:cifar10")] == [
      "digit", "digit", "image", "image"]


def test_the_committed_translation_results_name_their_examples():
  """Tables of a re-asked experiment call its examples by their data set's noun."""
  notes = {}
  for folder in ("translation", "fashion_mnist/translation"):
    with open(os.path.join(RESULTS, folder, "results.json")) as f:
      notes[folder] = " ".join(getattr(finding, "note", None) or finding.description
                               for finding in translation.summarise(json.load(f)))
  assert "test digits" in notes["translation"] and "test images" not in notes["translation"]
  assert "test images" in notes["fashion_mnist/translation"]
  assert "digit" not in notes["fashion_mnist/translation"]


def test_an_experiments_mnist_results_come_before_its_re_asked_ones(tmp_path):
  """Whatever the folders' alphabetical order ("fashion_mnist/" sorts before "pooling/")."""
  for folder, data in (("pooling", None), ("fashion_mnist/pooling", "fashion_mnist")):
    (tmp_path / folder).mkdir(parents=True)
    text = {"title": "t", "question": "q", "motivation": "m", "method": "w"}
    (tmp_path / folder / "results.json").write_text(
        json.dumps({**results(MNIST_ERRORS, data), **text}))
  found = entries(str(tmp_path), {})
  assert [reasked.dataset(e.results) for e in found] == ["mnist", "fashion_mnist"]


def test_order_changes_are_the_swapped_pairs_and_which_are_beyond_noise():
  changes = reasked.order_changes(HARD_ERRORS, MNIST_ERRORS)
  # Hard order: c < b < a. Swapped on MNIST: (c, b), (c, a) beyond noise on both; (b, a)
  # swapped but within noise on both.
  assert sorted(changes) == [("b", "a", False), ("c", "a", True), ("c", "b", True)]
  assert reasked.order_changes(MNIST_ERRORS, MNIST_ERRORS) == []


def test_findings_rank_both_sides_and_count_the_changes():
  found = reasked.findings(results(HARD_ERRORS, "fashion_mnist"), results(MNIST_ERRORS, None))
  grid = next(f for f in found if isinstance(f, Grid))
  assert grid.rows == ["A", "B", "C"]
  ranks = {row: (cells[1], cells[3]) for row, cells in zip(grid.rows, grid.cells)}
  assert ranks == {"A": (3, 1), "B": (2, 2), "C": (1, 3)}
  values = {f.name: f.value for f in found if isinstance(f, Value)}
  # Ranks (3, 2, 1) against (1, 2, 3): perfectly reversed.
  assert values["rank_correlation"] == pytest.approx(-1.0)
  assert values["order_changes"] == 3 and values["order_changes_beyond_noise"] == 2


def test_only_entries_on_another_data_set_get_the_comparison():
  text = Text("t", "q", "m", "w")
  mnist = Entry("results/pooling", results(MNIST_ERRORS, None), text, [])
  hard = Entry("results/fashion_mnist/pooling", results(HARD_ERRORS, "fashion_mnist"), text, [])
  out = with_mnist_comparisons([mnist, hard])
  assert out[0].findings == [] and any(isinstance(f, Grid) for f in out[1].findings)
  assert with_mnist_comparisons([hard])[0].findings == []


def test_the_discussion_says_whether_the_order_carried_over():
  found = reasked.findings(results(HARD_ERRORS, "fashion_mnist"), results(MNIST_ERRORS, None))
  text = discussion.across_datasets([f for f in found if isinstance(f, Value)])
  assert "rank correlation of -1.00" in text
  assert "Three pairs of variants changed places; two of them beyond seed noise" in text
  same = reasked.findings(results(MNIST_ERRORS, "fashion_mnist"), results(MNIST_ERRORS, None))
  assert "No pair of variants changed places." in discussion.across_datasets(
      [f for f in same if isinstance(f, Value)])
  assert discussion.across_datasets([]) == ""
