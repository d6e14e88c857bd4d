"""The lecture's experiments (xcorr_vs_conv, pooling, depth), run as a user
runs them (``--quick``), and their outputs.

One ``--experiment=all --quick`` run through ``run_experiment.py`` feeds most
tests; its ``--variants`` picks two of each of these experiments (those that
exercise every output: both xcorr/conv networks for the exact-equivalence
check and the kernel figure, the learned Lp exponent, a ConvNet and an MLP
for the depth trends), so the other experiments are skipped and the module
stays within about two minutes. ``tests/test_coursework_experiments.py``
covers the rest.
"""

from __future__ import annotations

import copy
import json
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

from convnets.configs.default import get_config
from convnets.experiment import Settings, stats
from convnets.experiment.runner import recorded, run_experiment
from convnets.train.workdir import WorkdirError, load_variables
from experiments import NAMES, get

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK_VARIANTS = {"xcorr_vs_conv": ["xcorr", "conv"], "pooling": ["max", "lp_learned"],
                  "depth": ["convnet1", "mlp1"]}
LECTURE = tuple(QUICK_VARIANTS)
SECTIONS = ("## Research question", "## Motivation", "## Method", "## Results", "## Discussion")
RUN_KEYS = ("seed", "test_error", "test_accuracy", "valid_error", "params", "seconds_per_epoch",
            "curves", "workdir")
VARIANT_KEYS = ("name", "label", "model", "model_kwargs", "params", "connections",
                "test_error", "valid_error", "seconds_per_epoch", "runs")


def run_python(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                        timeout=600)


@pytest.fixture(scope="module")
def quick_all(tmp_path_factory) -> str:
  """The folder of one ``--experiment=all --quick`` run."""
  workdir = str(tmp_path_factory.mktemp("experiments") / "all")
  variants = ",".join(v for names in QUICK_VARIANTS.values() for v in names)
  result = run_python("run_experiment.py", "--experiment=all", "--quick", "--config.pictures=False",
                      f"--variants={variants}", f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  # Progress names the experiment, the variant and the seed, and shows epochs.
  assert re.search(r"\[pooling 2/2 lp_learned\] seed 0: epoch +1/1", result.stdout)
  return workdir


def load_results(workdir: str, name: str) -> dict:
  with open(os.path.join(workdir, name, "results.json")) as f:
    return json.load(f)


def assert_png(path: str) -> None:
  with open(path, "rb") as f:
    head = f.read(24)
  assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
  width, height = struct.unpack(">II", head[16:24])
  assert width > 100 and height > 100 and os.path.getsize(path) > 5000, path


def test_registry_lists_every_experiment():
  assert set(LECTURE) <= set(NAMES)
  for name in NAMES:
    assert get(name).name == name
  with pytest.raises(ValueError, match="unknown experiment 'nope'"):
    get("nope")


@pytest.mark.parametrize("name", LECTURE)
def test_results_json_has_every_run(quick_all, name):
  results = load_results(quick_all, name)
  assert [v["name"] for v in results["variants"]] == QUICK_VARIANTS[name]
  assert results["settings"]["quick"] and results["settings"]["epochs"] == 1
  assert results["settings"]["test_examples"] == 2000
  for variant in results["variants"]:
    assert all(key in variant for key in VARIANT_KEYS), sorted(variant)
    assert variant["params"] > 0 and variant["connections"] > variant["params"] // 2
    assert len(variant["runs"]) == 1
    run = variant["runs"][0]
    assert all(key in run for key in RUN_KEYS), sorted(run)
    assert run["test_error"] == pytest.approx(1 - run["test_accuracy"])
    assert run["seconds_per_epoch"] > 0
    assert [c["epoch"] for c in run["curves"]] == [1]
    assert variant["test_error"]["mean"] == run["test_error"]
    assert os.path.isfile(os.path.join(quick_all, name, run["workdir"], "variables.msgpack"))
  # One seed: nothing can be tested, and the results say so.
  assert all(c["p"] is None for c in results["comparisons"].values())


@pytest.mark.parametrize("name", LECTURE)
def test_results_md_has_table_sections_and_figures(quick_all, name):
  results = load_results(quick_all, name)
  with open(os.path.join(quick_all, name, "results.md")) as f:
    text = f.read()
  positions = [text.index(section) for section in SECTIONS]
  assert positions == sorted(positions)
  assert "| variant | test error (%) |" in text
  for variant in results["variants"]:
    assert f"| {variant['label']} | {100 * variant['test_error']['mean']:.2f} |" in text
  assert "Welch's" in text and "seed" in text and "`--quick` smoke run" in text
  expected = {"curves.png", "test_error.png"} | {
      "xcorr_vs_conv": {"kernels.png"},
      "depth": {"test_error_vs_depth.png", "test_error_vs_params.png",
                "test_error_vs_connections.png"},
  }.get(name, set())
  assert {f["file"] for f in results["figures"]} == expected
  for figure in expected:
    assert f"]({figure})" in text
    assert_png(os.path.join(quick_all, name, figure))


def test_xcorr_network_flipped_is_the_conv_network(quick_all):
  analysis = load_results(quick_all, "xcorr_vs_conv")["analysis"]
  assert analysis["max_abs_logit_difference"] < 1e-5
  assert analysis["identical_predictions"] == analysis["test_examples"] == 2000
  assert analysis["flipped_conv_test_error"] == analysis["xcorr_test_error"]
  # The check has teeth: without the flip the networks disagree.
  assert analysis["unflipped_identical_predictions"] < analysis["test_examples"]
  # The report shows every number the check stored, each in its own row.
  with open(os.path.join(quick_all, "xcorr_vs_conv", "results.md")) as f:
    text = f.read()
  values = get("xcorr_vs_conv").summarise(load_results(quick_all, "xcorr_vs_conv"))
  assert len(values) == 9 and all(f"| {v.description} |" in text for v in values)


def test_pooling_reports_the_learned_exponent(quick_all):
  """The reported p is the trained run's, 1 + softplus(rho) of its stored
  rho, and training moved it from its start."""
  results = load_results(quick_all, "pooling")
  analysis = results["analysis"]
  run, = next(v for v in results["variants"] if v["name"] == "lp_learned")["runs"]
  variables = load_variables(os.path.join(quick_all, "pooling", run["workdir"]))
  rho = float(np.asarray(variables["params"]["conv1"]["pool"]["rho"]))
  assert analysis["learned_p_start"] == 2.0
  assert analysis["learned_p"] == [pytest.approx(1 + np.log1p(np.exp(rho)))]
  assert abs(analysis["learned_p"][0] - 2.0) > 1e-4


def test_report_links_every_result_and_figure(quick_all):
  with open(os.path.join(quick_all, "report.md")) as f:
    text = f.read()
  links = re.findall(r"\]\(([^)]+)\)", text)
  assert sorted(os.listdir(quick_all)) == sorted([*LECTURE, "report.md"])
  for name in LECTURE:
    assert f"{name}/results.md" in links
  for link in links:
    assert os.path.isfile(os.path.join(quick_all, link)), link


def test_the_command_line_refuses_a_used_workdir(tmp_path):
  workdir = tmp_path / "used"
  workdir.mkdir()
  (workdir / "results.json").write_text("{}")
  result = run_python("run_experiment.py", "--experiment=pooling", f"--workdir={workdir}",
                      "--quick")
  assert result.returncode != 0
  assert "already holds results" in result.stderr.strip().splitlines()[-1], result.stderr[-2000:]
  assert os.listdir(workdir) == ["results.json"]


def test_unknown_variant_is_refused_before_anything_is_written(mnist, tmp_path):
  workdir = tmp_path / "new"
  with pytest.raises(ValueError, match="has no variant 'median'; its variants: max, avg"):
    run_experiment(get("pooling"), str(workdir), config=get_config(), data=mnist,
                   settings=Settings(variants=("median",), quick=True))
  assert not workdir.exists()
  workdir.mkdir()
  (workdir / "x").write_text("")
  with pytest.raises(WorkdirError):
    run_experiment(get("pooling"), str(workdir), config=get_config(), data=mnist,
                   settings=Settings(variants=("max",), quick=True))


def test_resume_reads_back_finished_runs_and_trains_the_rest(mnist, tmp_path):
  workdir = str(tmp_path / "pooling")
  config = get_config()
  run = lambda seeds, **kw: run_experiment(
      get("pooling"), workdir, config=kw.pop("config", config), data=mnist,
      settings=Settings(seeds=seeds, variants=("max",), quick=True), log=lines.append, **kw)
  lines: list[str] = []
  first = run((0,))
  seed0 = os.path.join(workdir, "runs", "max", "seed0", "summary.json")
  before = (os.path.getmtime(seed0), open(seed0).read())

  lines.clear()
  second = run((0, 1), resume=True)
  assert any("seed 0 finished earlier" in line for line in lines), lines
  assert not any("seed 0 ->" in line for line in lines)  # seed 0 was not trained again
  assert (os.path.getmtime(seed0), open(seed0).read()) == before
  runs = second["variants"][0]["runs"]
  assert [r["seed"] for r in runs] == [0, 1]
  assert runs[0]["test_error"] == first["variants"][0]["runs"][0]["test_error"]
  assert os.path.isfile(os.path.join(workdir, "runs", "max", "seed1", "summary.json"))
  assert [r["read_back"] for r in runs] == [True, False]
  assert second["run_seconds"] == pytest.approx(sum(r["total_seconds"] for r in runs))
  with open(os.path.join(workdir, "results.md")) as f:
    assert "1 of them in earlier invocations read back by `--resume`" in f.read()

  # A finished run with other settings is never mixed in, nor replaced.
  other = copy.deepcopy(config)
  other.optimizer.learning_rate = config.optimizer.learning_rate / 2
  with pytest.raises(WorkdirError, match=r"another config \(optimizer differ\)"):
    run((0, 1), resume=True, config=other)
  assert (os.path.getmtime(seed0), open(seed0).read()) == before
  with pytest.raises(WorkdirError, match="contradict"):
    run((0,), resume=True, overwrite=True)


def test_pair_and_verdict_put_welchs_test_into_words():
  # Hand computation: means 2 and 3 1/3, variances 1 and 7/3, n = 3 each:
  # t = (10/3 - 2) / sqrt(1/3 + 7/9) = 1.2649.
  c = stats.pair([2.0, 3.0, 5.0], [1.0, 2.0, 3.0])
  assert c["difference"] == pytest.approx(4 / 3)
  assert c["t"] == pytest.approx(1.2649, abs=1e-4)
  assert c["significant"] is False and stats.verdict(c) == "within seed noise"
  clear = stats.pair([0.020, 0.021, 0.022], [0.010, 0.011, 0.012])
  assert clear["significant"] is True and stats.verdict(clear) == "beyond seed noise"
  one_seed = stats.pair([0.02], [0.01])
  assert one_seed["p"] is None and stats.verdict(one_seed) == "untested (one seed, or no spread)"
  assert stats.per_seed({"runs": [{"test_error": 0.1}, {"test_error": 0.2}]}) == [0.1, 0.2]


def test_direction_places_a_comparison_beyond_or_within_seed_noise():
  assert stats.direction(stats.pair([0.020, 0.021, 0.022], [0.010, 0.011, 0.012])) == "higher"
  assert stats.direction(stats.pair([0.010, 0.011, 0.012], [0.020, 0.021, 0.022])) == "lower"
  assert stats.direction(stats.pair([2.0, 3.0, 5.0], [1.0, 2.0, 3.0])) == "level"
  assert stats.direction(stats.pair([0.02], [0.01])) == "untested"


def test_a_copied_record_with_a_tuple_setting_is_kept(tmp_path):
  """A results.json holds a tuple setting (tangent distance's ``smoothings``)
  as a list; the record still matches its variant and is kept, while one whose
  setting really differs is dropped."""
  experiment = get("lecun1998")
  tangent = next(v for v in experiment.variants if v.name == "tangent")
  assert isinstance(tangent.overrides["model"]["smoothings"], tuple)
  record = {"name": "tangent", "overrides": json.loads(json.dumps(tangent.overrides)),
            "runs": [{"seed": 0}]}
  changed = copy.deepcopy(record)
  changed["name"] = "tangent-half"
  with open(tmp_path / "results.json", "w") as f:
    json.dump({"variants": [record, changed]}, f)
  kept = recorded(experiment, str(tmp_path))
  assert list(kept) == ["tangent"] and kept["tangent"]["runs"] == [{"seed": 0, "read_back": True}]
