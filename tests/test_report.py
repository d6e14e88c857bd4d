"""The one renderer of every report (``convnets/experiment/report.py`` and
``discussion.py``): its structure on made-up results, the numbers' formats,
the text files it reads, and the committed reports' links. The wording of
its sentences is not pinned; what they say is."""

from __future__ import annotations

import glob
import importlib
import os
import re

import numpy as np
import pytest
import scipy.stats

from convnets.experiment import discussion, report, stats
from convnets.experiment.formats import difference, number, with_unit
from convnets.experiment.spec import Text, load_text
from convnets.experiment.values import Comparison, Grid, Value, flat, short_key
from experiments import NAMES, get

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = ("# ", "## Research question", "## Motivation", "## Method", "## Results",
            "## Discussion")
TEXT = Text("A title", "The question?", "The motivation.", "The method.", "The limits.")


def section(markdown: str, heading: str) -> str:
  """The body of ``## heading`` up to the next ``## ``."""
  start = markdown.index(f"## {heading}\n")
  end = markdown.find("\n## ", start + 1)
  return markdown[start:end if end >= 0 else None]


def table_rows(markdown: str, head: str) -> list[str]:
  """The first cells of the table whose head row starts with ``head``."""
  lines = markdown[markdown.index(head):].splitlines()
  rows = []
  for line in lines[2:]:
    if not line.startswith("|"):
      break
    rows.append(line.split(" | ")[0].removeprefix("| "))
  return rows


@pytest.fixture
def results(make_variant, make_results):
  """Three seeds each: "far" clearly above the reference, "close" level with it."""
  variants = [make_variant("ref", [0.0100, 0.0104, 0.0098]),
              make_variant("far", [0.0300, 0.0310, 0.0295]),
              make_variant("close", [0.0101, 0.0099, 0.0105])]
  out = make_results(variants, "ref")
  out["figures"] = [{"file": "curves.png", "caption": "The curves."}]
  return out


def summarise(results):
  return [Grid("g", "A grid", ["row 1", "row 2"], ["x", "verdict"], [[0.01, "yes"], [None, "no"]]),
          Comparison("c", "far against close", [0.03, 0.031, 0.0295], [0.0101, 0.0099, 0.0105]),
          Value("v", "a number per seed", [1.0, 2.0, 3.0])]


def test_sections_come_in_the_coursework_order_with_the_text_in_them(results):
  markdown = report.results_markdown(results, TEXT, summarise)
  positions = [markdown.index(s) for s in SECTIONS]
  assert positions == sorted(positions) and markdown.startswith("# A title\n")
  for heading, body in (("Research question", TEXT.question), ("Motivation", TEXT.motivation),
                        ("Method", TEXT.method), ("Discussion", TEXT.limitations)):
    assert body in section(markdown, heading), heading


def test_results_hold_a_row_per_variant_and_every_finding(results):
  markdown = section(report.results_markdown(results, TEXT, summarise), "Results")
  assert table_rows(markdown, "| variant | test error (%)") == ["ref", "far", "close"]
  assert table_rows(markdown, "|  | x (%) | verdict |") == ["row 1", "row 2"]
  assert table_rows(markdown, "| a against b |") == ["far against close"]
  assert table_rows(markdown, "| quantity | value |") == ["a number per seed"]
  assert "](curves.png)" in markdown
  # A column of words has no unit; the empty cell shows as a dash.
  assert "| row 1 | 1.00 | yes |" in markdown and "| row 2 | – | no |" in markdown


def test_discussion_names_what_exceeds_seed_noise_and_not_what_does_not(results):
  assert results["comparisons"]["far"]["significant"]
  assert not results["comparisons"]["close"]["significant"]
  text = discussion.against_reference(results)
  assert "**far**" in text and "**close**" not in text  # the one within noise is counted
  assert f"{100 * results['comparisons']['far']['difference']:+.2f}" in text
  own = discussion.own_comparisons(
      [summarise(results)[1], Comparison("level", "level pair", [0.01, 0.011, 0.012],
                                         [0.0105, 0.0115, 0.0112])])
  assert "far against close" in own and "level pair" not in own


def test_discussion_is_prose_with_effect_sizes_and_a_conclusion(results):
  """Paragraphs of sentences, not a list; the difference beyond noise with its
  size relative to the reference's error; a conclusion that names the
  reference and counts the variants measurably worse and those unresolved."""
  text = discussion.discussion(results, summarise(results)[1:2], "The limits.")
  paragraphs = text.split("\n\n")
  assert not any(line.lstrip().startswith(("- ", "* ")) for line in text.splitlines())
  assert all(p.rstrip().endswith(".") for p in paragraphs) and len(paragraphs) >= 4
  far = results["comparisons"]["far"]["difference"]
  reference = results["variants"][0]["test_error"]["mean"]
  # Independently: (mean(far) - mean(ref)) / mean(ref), as a percentage.
  assert f"{100 * far / reference:.0f}% more errors" in text
  conclusion = next(p for p in paragraphs if p.startswith("**Conclusion.**"))
  assert "**ref** has the lowest mean test error" in conclusion
  assert "one of the two variants tested against it is measurably worse" in conclusion
  assert "one cannot be told apart from it with three seeds" in conclusion
  assert paragraphs[-1] == "**Limitations.** The limits."


def test_conclusion_names_a_variant_better_than_the_reference(make_variant, make_results):
  results = make_results([make_variant("base", [0.030, 0.031, 0.0295]),
                          make_variant("better", [0.0100, 0.0104, 0.0098])], "base")
  text = discussion.conclusion(results)
  assert "**better** improves on **base** beyond seed noise" in text
  assert "fewer errors" in text and "the one variant tested against it is not measurably" in text
  level = make_results([make_variant("base", [0.0105, 0.0115, 0.0112]),
                        make_variant("same", [0.010, 0.011, 0.012])], "base")
  assert ("No variant is measurably better than **base**: the lowest mean, **same**'s, is "
          "within seed noise of it") in discussion.conclusion(level)


def test_verdicts_read_as_clauses():
  items = [(f"v{i}", "d", i < 2) for i in range(6)]
  assert discussion.verdicts(items, "others") == (
      "two of the six others exceed seed-to-seed noise, v0 (d) and v1 (d), while the other "
      "four lie within it")
  assert discussion.verdicts(items[2:4], "others") == (
      "neither of the two others exceeds seed-to-seed noise")
  many = [(f"v{i}", "d", i > 0) for i in range(7)]
  assert discussion.verdicts(many, "others") == (
      "six of the seven others exceed seed-to-seed noise; only v0 lies within it")


def test_one_seed_is_reported_as_untestable(make_variant, make_results):
  results = make_results([make_variant("a", [0.01]), make_variant("b", [0.02])], "a")
  text = discussion.discussion(results, [], "")
  assert "--seeds" in text and "beyond" not in text
  assert "p vs reference" in report.table(results) and "n/a" in report.table(results)


def test_diverged_seeds_are_shown_and_left_out(make_variant, make_results):
  """A seed without a test error shows as a dash; a variant with no finished
  seed has no mean and is neither the best nor the worst."""
  results = make_results([make_variant("a", [0.010, None, 0.011]),
                          make_variant("b", [0.020, 0.021, 0.022]),
                          make_variant("gone", [None, None])], "a")
  assert results["variants"][0]["test_error"]["n"] == 2
  table = report.table(results)
  assert "| a | 1.05 ± 0.07 | 1.00, –, 1.10 |" in table and "| gone | – | –, – |" in table
  text = discussion.against_reference(results)
  best_and_worst = text[:text.index("**. ") + 3]  # the first sentence
  assert "**gone**" not in best_and_worst and "**b**" in best_and_worst
  assert "could not be tested" in text  # gone, against a
  assert "## Discussion" in report.results_markdown(results, TEXT)


@pytest.mark.parametrize("key", ["model_kwargs.pooling", "model.pooling"])
def test_old_and_new_config_keys_render_alike(make_variant, make_results, key):
  results = make_results([make_variant("avg", [0.01, 0.011], overrides={key: "avg",
                                                                         "model": "convnet"})])
  assert "- **avg** (`avg`): model `mlp_300`, `pooling=avg`" in report.method(results, TEXT)
  assert short_key(key) == "pooling" and short_key("augment.name") == "augment"
  assert flat({"optimizer": {"name": "adam", "learning_rate": 0.1}}) == {
      "optimizer": "adam", "learning_rate": 0.1}


def test_numbers_read_as_the_tables_show_them():
  assert number([1.77, 1.75, 1.79]) == "1.77 ± 0.02"
  assert number({"mean": 0.0128, "std": 0.0006, "n": 3}, "%") == "1.28 ± 0.06"
  assert number(4505.9) == "4,506" and number(0.0795) == "0.0795" and number(None) == "–"
  assert with_unit(0.004, "%") == "0.40%"
  assert difference(0.0011, "%") == "+0.11 points" and difference(-0.0754, "") == "-0.0754"


def test_detectable_difference_by_hand():
  # 3 seeds: 4 degrees of freedom, t_0.975 = 2.776; std 0.001: 2.776 x 0.001 x sqrt(2/3).
  assert stats.detectable(0.001, 3) == pytest.approx(0.002267, rel=1e-3)
  assert stats.detectable(0.001, 1) is None
  assert stats.typical([0.001, None, 0.0, 0.003, 0.010]) == pytest.approx(0.003)


@pytest.mark.parametrize("difference, std, n", [(0.003, 0.0015, 3), (0.003, 0.0015, 6),
                                                 (0.001, 0.002, 4)])
def test_power_is_the_rate_at_which_simulated_experiments_detect_the_difference(
    difference, std, n):
  # Monte Carlo: many experiments of n seeds per side, each tested by the pooled t-test.
  rng = np.random.default_rng(0)
  a = rng.normal(difference, std, size=(20_000, n))
  b = rng.normal(0.0, std, size=(20_000, n))
  p = scipy.stats.ttest_ind(a, b, axis=1).pvalue
  assert stats.power(difference, std, n) == pytest.approx(np.mean(p < stats.ALPHA), abs=0.01)


def test_seeds_for_is_the_first_count_with_enough_power():
  n = stats.seeds_for(0.003, 0.0015)
  assert stats.power(0.003, 0.0015, n) >= 0.8 > stats.power(0.003, 0.0015, n - 1)
  assert stats.power(0.003, 0.0015, 1) is None and stats.seeds_for(1e-9, 1.0, most=5) is None


def test_the_discussion_gives_the_power_for_a_relevant_difference():
  variants = [{"test_error": {"mean": 0.012, "std": std, "n": 3}} for std in (0.001, 0.002)]
  results = {"variants": variants, "comparisons": {"b": {}}, "test": {"alpha": 0.05}}
  text = discussion.power(results)
  # The typical std is the median of 0.001 and 0.002.
  chance = stats.power(discussion.RELEVANT_DIFFERENCE, 0.0015, 3)
  needed = stats.seeds_for(discussion.RELEVANT_DIFFERENCE, 0.0015)
  assert f"would be detected with probability {chance:.0%}" in text
  assert f"80% power takes {discussion.count(needed)} seeds per variant" in text


def test_a_grid_of_the_wrong_shape_is_refused():
  with pytest.raises(ValueError, match="2 rows of 1 columns"):
    Grid("g", "t", ["a", "b"], ["x"], [[1.0]])


def test_text_files_have_their_sections(tmp_path):
  good = tmp_path / "x.md"
  good.write_text("# T\n\n## Question\n\nQ\nmore\n\n## Motivation\n\nM\n\n## Method\n\nH\n")
  assert load_text(str(tmp_path / "x.py")) == Text("T", "Q\nmore", "M", "H", "")
  (tmp_path / "bad.md").write_text("# T\n\n## Question\n\nQ\n\n## Results\n\nR\n")
  with pytest.raises(ValueError, match="unknown section 'Results'"):
    load_text(str(tmp_path / "bad.md"))
  (tmp_path / "short.md").write_text("# T\n\n## Question\n\nQ\n")
  with pytest.raises(ValueError, match="no ## Motivation, ## Method"):
    load_text(str(tmp_path / "short.md"))


@pytest.mark.parametrize("name", NAMES)
def test_every_experiment_reads_its_text_file(name):
  experiment = get(name)
  assert experiment.text == load_text(os.path.join(ROOT, "experiments", f"{name}.md"))
  assert experiment.text.limitations and experiment.summarise is not None


# Design constants of the code that the experiments' text files state in words.
STATED = {
    "regularisation": lambda m: [f"{v:g}" for v in (*m.L1, *m.L2)] + [f"{p:g}" for p in m.DROPOUT],
    "lecun1998": lambda m: [f"{m.LINEAR_OUTPUT_LEARNING_RATE:g}",
                            f"{m.RBF_OUTPUT_LEARNING_RATE:g}", f"{m.EPOCHS} epochs",
                            f"{m.DIST_EPOCHS} for"],
    "early_stopping": lambda m: [f"{m.EPOCHS} epochs", *(f"{p}" for p in m.PATIENCES)],
    "skip_connections": lambda m: [", ".join(map(str, m.DEPTHS)), f"{m.WIDTH} maps",
                                   f"{m.TRAIN_EXAMPLES:,}"],
    "depth": lambda m: [f"{m.MAPS} 5x5", f"{m.CONV_HIDDEN} ReLU", f"{m.MLP_HIDDEN} ReLU"],
    "batch_norm": lambda m: [", ".join(f"{r:g}" for r in m.LEARNING_RATES[:-1])],
}


@pytest.mark.parametrize("name", list(STATED))
def test_text_files_state_the_codes_design_constants(name):
  module = importlib.import_module(f"experiments.{name}")
  text = module.EXPERIMENT.text
  for constant in STATED[name](module):
    assert constant in text.question + text.method, constant


REPORTS = sorted(glob.glob(os.path.join(ROOT, "results", "**", "results.md"), recursive=True))


@pytest.mark.parametrize("path", [os.path.relpath(p, ROOT) for p in REPORTS] + ["README.md"])
def test_committed_reports_link_only_files_that_exist(path):
  with open(os.path.join(ROOT, path)) as f:
    links = re.findall(r"\]\(([^)#]+)\)", f.read())
  assert links or path == "README.md"
  for link in links:
    if not link.startswith("http"):
      assert os.path.exists(os.path.join(ROOT, os.path.dirname(path), link)), link
