"""Each experiment's named values (its ``summarise``) on small made-up
results, checked against numbers worked out by hand: the values are what a
report shows, so they are tested, not its sentences. No training here."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from convnets.experiment import best_runs, families, stats
from experiments import (augmentation, batch_norm, best_search, depth, early_stopping,
                         lecun1998, pooling, preprocessing, regularisation, skip_connections,
                         transfer_functions, xcorr_vs_conv)


def by_name(findings) -> dict:
  return {f.name: f for f in findings}


def test_families_compare_each_setting_within_its_own_network(make_variant):
  """Two networks x three settings: the MLP's "b" is clearly worse than its
  baseline "a" (1.63% against 1.10%), its "c" level; the ConvNet's "c" clearly
  better; a setting a family lacks is left empty in the grid."""
  # The baseline is not the first of its family: comparisons are against it, not the first.
  errors = {("MLP", "b"): [0.016, 0.017, 0.016], ("MLP", "a"): [0.010, 0.011, 0.012],
            ("MLP", "c"): [0.011, 0.010, 0.012], ("ConvNet", "a"): [0.010, 0.011, 0.012],
            ("ConvNet", "c"): [0.006, 0.005, 0.006]}
  variants = [make_variant(f"{f}_{s}", e, family=f, setting=s) for (f, s), e in errors.items()]
  setting = lambda v: v["setting"]
  grid = families.grid(variants, setting, "setting")
  assert grid.rows == ["b", "a", "c"] and grid.columns == ["MLP test error", "ConvNet test error"]
  assert grid.cells[0] == [[0.016, 0.017, 0.016], None]
  found = by_name(families.comparisons(variants, setting, "a"))
  assert set(found) == {"MLP_b", "MLP_c", "ConvNet_c"}
  tests = {name: stats.pair(c.a, c.b) for name, c in found.items()}
  assert tests["MLP_b"]["difference"] == pytest.approx(0.016333 - 0.011, abs=1e-6)
  assert stats.direction(tests["MLP_b"]) == "higher"
  assert stats.direction(tests["MLP_c"]) == "level"
  assert stats.direction(tests["ConvNet_c"]) == "lower"


def test_settings_are_read_from_old_and_new_config_keys(make_variant):
  old = make_variant("a", [0.01], overrides={"model_kwargs.activation": "gelu",
                                             "preprocess": "zca"})
  new = make_variant("b", [0.01], overrides={"model.activation": "gelu", "data.preprocess": "zca"})
  for record in (old, new):
    assert transfer_functions.activation(record) == "gelu"
    assert preprocessing.preprocessing(record) == "ZCA whitening"


def test_depth_pairs_networks_of_equal_depth_and_the_extremes_of_size(make_variant):
  variants = [make_variant("convnet1", [0.012, 0.013, 0.011], family="ConvNet", params=100),
              make_variant("convnet2", [0.010, 0.011, 0.012], family="ConvNet", params=50),
              make_variant("mlp1", [0.028, 0.029, 0.027], family="MLP", params=300),
              make_variant("mlp2", [0.023, 0.024, 0.022], family="MLP", params=600)]
  found = by_name(depth.summarise({"variants": variants}))
  assert set(found) == {"depth1", "depth2", "size", "size_ratio"}
  # The smallest ConvNet is convnet2 (50 parameters), the largest MLP mlp2 (600).
  assert found["size"].a == [0.010, 0.011, 0.012] and found["size"].b == [0.023, 0.024, 0.022]
  assert found["size_ratio"].value == 12
  assert found["depth1"].b == [0.028, 0.029, 0.027]


def test_batch_norm_counts_failed_runs_and_reads_the_first_epoch(make_variant):
  plain = make_variant("simple_plain_lr0.5", [0.9, 0.02, 0.03, None], epochs=3)
  plain["runs"][1]["epochs"] = 2  # diverged in the committed runs' way: stopped, tested
  normed = make_variant("simple_bn_lr0.5", [0.011, 0.012, 0.013], epochs=3)
  for run in normed["runs"] + [plain["runs"][0], plain["runs"][2]]:
    run["epochs"] = 3
  grid, comparison = batch_norm.summarise({"variants": [plain, normed]})
  assert grid.rows == ["simple ConvNet, lr 0.5"]
  first_plain, first_bn, failed_plain, failed_bn = grid.cells[0]
  assert first_plain == pytest.approx([0.9, 0.02, 0.03])  # 1 - valid accuracy after epoch 1
  # One at chance, one stopped early, one diverged without a test error.
  assert (failed_plain, failed_bn) == (3, 0)
  assert comparison.a == [0.011, 0.012, 0.013] and comparison.b == [0.9, 0.02, 0.03]


def skip_variant(make_variant, family: str, depth: int, losses, errors):
  record = make_variant(f"{family}{depth}", errors, family=family, coords={"depth": depth})
  for run, loss in zip(record["runs"], losses):
    run["curves"][-1]["train_loss"] = loss
  return record


def test_skip_connections_compare_the_deepest_with_the_best_trained_shallower_net(make_variant):
  """He et al.'s degradation: the deepest plain net trains worse than the
  14-layer one (not the 6-layer one, which trains worse still); the residual
  family keeps improving."""
  variants = [skip_variant(make_variant, *args) for args in (
      ("plain", 4, [0.60, 0.70, 0.65], [0.10, 0.11, 0.12]),
      ("plain", 12, [0.20, 0.21, 0.22], [0.040, 0.045, 0.043]),
      ("plain", 24, [0.37, 0.38, 0.39], [0.090, 0.100, 0.095]),
      ("residual", 4, [0.60, 0.65, 0.70], [0.10, 0.11, 0.12]),
      ("residual", 12, [0.15, 0.16, 0.155], [0.037, 0.038, 0.042]),
      ("residual", 24, [0.080, 0.079, 0.081], [0.031, 0.029, 0.033]))]
  found = by_name(skip_connections.summarise({"variants": variants}))
  plain, residual = found["degradation_plain"], found["degradation_residual"]
  assert plain.b == [0.20, 0.21, 0.22] and "26 layers against 14" in plain.description
  assert stats.pair(plain.a, plain.b)["difference"] == pytest.approx(0.17)
  assert stats.direction(stats.pair(plain.a, plain.b)) == "higher"
  assert stats.pair(residual.a, residual.b)["difference"] == pytest.approx(-0.075)
  deepest = stats.pair(found["residual24"].a, found["residual24"].b)
  assert deepest["difference"] == pytest.approx(0.031 - 0.095)
  assert found["final_train_loss"].cells[2] == [[0.37, 0.38, 0.39]]


def test_early_stopping_reports_epochs_used_and_the_rise_it_could_remove(make_variant):
  fixed = make_variant("fixed", [0.016, 0.017], epochs=3)
  stopped = make_variant("patience1", [0.015, 0.016], epochs=3)
  for run in fixed["runs"]:
    run.update(epochs=3, seconds_per_epoch=2.0, train_accuracy=0.999,
               curves=[{"valid_accuracy": a} for a in (0.980, 0.985, 0.983)])
  for run in stopped["runs"]:
    run.update(epochs=2, best_epoch=1, seconds_per_epoch=2.0)
  grid, rise, train = early_stopping.summarise({"variants": [fixed, stopped],
                                                "reference": "fixed"})
  assert grid.cells[1] == [[2, 2], [2 / 3, 2 / 3], [1, 1], [4.0, 4.0]]
  assert grid.cells[0][2] == [3, 3]  # the fixed runs test their last epoch
  assert rise.value == pytest.approx([0.002, 0.002])
  assert train.value == pytest.approx([0.001, 0.001])


def test_augmentation_gap_is_validation_minus_training_error(make_variant):
  none = make_variant("none", [0.011, 0.012])
  for run, accuracy in zip(none["runs"], (0.999, 0.998)):
    run["train_accuracy"] = accuracy
  grid, = augmentation.summarise({"variants": [none]})
  train, valid, gap = grid.cells[0]
  assert train == pytest.approx([0.001, 0.002]) and valid == [0.011, 0.012]
  assert gap == pytest.approx([0.010, 0.010])


def test_regularisation_names_the_strongest_penalty_within_noise(make_variant, make_results):
  spread = lambda mean: {"mean": mean, "std": 0.0, "n": 3}
  weights = {name: {"near_zero": spread(z), "mean_abs": spread(0.03), "rms": spread(0.04),
                    "ignored_inputs": spread(0.0)}
             for name, z in (("none", 0.02), ("l1_1e-06", 0.05), ("l1_1e-05", 0.39),
                             ("l1_0.0001", 0.98))}
  variants = [make_variant("none", [0.0160, 0.0170, 0.0165]),
              make_variant("l1_1e-06", [0.0161, 0.0169, 0.0164], family="L1",
                           coords={"strength": 1e-6}),
              make_variant("l1_1e-05", [0.0162, 0.0168, 0.0166], family="L1",
                           coords={"strength": 1e-5}),
              make_variant("l1_0.0001", [0.0210, 0.0212, 0.0214], family="L1",
                           coords={"strength": 1e-4})]
  found = by_name(regularisation.summarise(make_results(variants, "none", {"weights": weights})))
  assert found["L1_harmless"].value == 1e-5  # 1e-4 costs error beyond noise
  assert found["L1_harmless_near_zero"].value == spread(0.39)
  assert "L2_harmless" not in found
  assert found["weights"].cells[3][0] == spread(0.98)


def test_best_search_chooses_by_validation_not_test_error(make_variant):
  """The candidate with the lowest validation error heads the ranking even
  though another has the lowest test error; the target is judged on each
  one's mean test error."""
  def candidate(name, valid, test):
    record = make_variant(name, test)
    for run, v in zip(record["runs"], valid):
      run["valid_error"] = v
    record["valid_error"] = stats.spread(valid)
    return record
  variants = [candidate("chosen", [0.0042, 0.0040, 0.0041], [0.0041, 0.0043, 0.0040]),
              candidate("low_valid", [0.0036, 0.0035, 0.0037], [0.0039, 0.0038, 0.0040]),
              candidate("low_test", [0.0045, 0.0044, 0.0046], [0.0030, 0.0031, 0.0032])]
  grid, chosen, target = best_search.summarise({"variants": variants})
  assert grid.rows == ["low_valid", "chosen", "low_test"]
  below = grid.columns.index("test mean below 0.4%")
  assert [row[below] for row in grid.cells] == ["yes", "no", "yes"]
  assert chosen.value == [0.0039, 0.0038, 0.0040] and target.value == 0.004


def test_lecun1998_sets_each_recipe_against_the_published_row(make_variant):
  lenet5 = make_variant("paper-lenet5", [0.010, 0.011, 0.012], family="paper")
  mlp = make_variant("modern-mlp_300", [0.020, 0.021, 0.022], family="modern")
  for run in mlp["runs"]:
    run["train_accuracy"] = 0.999
  whole, above, published, train, *counts = lecun1998.summarise({"variants": [lenet5, mlp]})
  # The whole table keeps every row of the paper, in its order; rows not run say so.
  assert whole.rows == list(lecun1998.PAPER_ORDER) and len(whole.rows) == 28
  lenet_whole = whole.cells[whole.rows.index("LeNet-5")]
  assert lenet_whole[1] == [0.010, 0.011, 0.012]  # the paper recipe's runs
  assert lenet_whole[2] == pytest.approx(0.011 - 0.0095)
  assert whole.cells[whole.rows.index("28x28-300-10")][1].startswith("not measured")  # modern only
  # The records' mean against the published error, each on 10,000 test digits: |z| < 1.96.
  assert above.rows == ["LeNet-5"]
  assert above.cells[0][above.columns.index("cause")] == "the test set's sampling noise"
  assert published.rows == ["28x28-300-10", "LeNet-5"]  # ROWS order; rows not run left out
  assert published.columns[0] == "published"
  mlp_row, lenet_row = published.cells
  assert mlp_row[0] == pytest.approx(0.047) and lenet_row[0] == pytest.approx(0.0095)
  # LeNet-5, paper: mean 1.1%, one more run in 1.1 ± 4.30 x 0.1 x sqrt(4/3) = [0.60, 1.60].
  assert lenet_row[1:4] == [[0.010, 0.011, 0.012], pytest.approx(0.0015), "consistent"]
  assert lenet_row[4:] == [None, None, None] and mlp_row[1:4] == [None, None, None]
  assert mlp_row[6] == "ours lower"  # 2.1 ± 0.4 lies below the published 4.7
  assert train.cells[0] == [None, pytest.approx([0.001] * 3)]
  counts = {c.name: c.value for c in counts}
  assert counts["paper_consistent"] == 1 and counts["modern_lower"] == 1
  assert counts["paper_lower"] == counts["modern_higher"] == 0


def test_pooling_reports_the_stored_exponent_and_its_change():
  found = by_name(pooling.summarise({"analysis": {"learned_p": [1.8, 1.7],
                                                  "learned_p_start": 2.0}}))
  assert found["learned_p"].value == [1.8, 1.7]
  assert found["learned_p_change"].value == pytest.approx([-0.2, -0.3])
  assert pooling.summarise({"analysis": {}}) == []
  # p = 1 + softplus(rho): rho = 0 gives 1 + log 2.
  variables = {"params": {"conv1": {"pool": {"rho": np.float32(0.0)}}}}
  assert pooling.learned_p(variables) == pytest.approx(1 + math.log(2))


def test_xcorr_reports_what_the_analysis_stored():
  analysis = {"test_examples": 2000, "max_abs_logit_difference": 0.0,
              "identical_predictions": 2000, "xcorr_test_error": 0.05}
  found = by_name(xcorr_vs_conv.summarise({"analysis": analysis}))
  assert set(found) == {"max_abs_logit_difference", "identical_predictions", "xcorr_test_error"}
  assert found["identical_predictions"].value == 2000
  assert "2,000" in found["identical_predictions"].description
  assert found["xcorr_test_error"].unit == "%"
  assert xcorr_vs_conv.summarise({"analysis": {}}) == []


def write_run(folder, platform: str, seed: int, test_error: float, valids) -> None:
  run = folder / platform / f"seed{seed}"
  run.mkdir(parents=True)
  summary = {"seed": seed, "test_error": test_error, "valid_error": valids[-1], "epochs": 2,
             "train_seconds": 10.0, "seconds_per_epoch": 5.0, "examples_per_second": 100.0,
             "compile_seconds": 1.0, "loop": "python"}
  (run / "summary.json").write_text(json.dumps(summary))
  (run / "config.json").write_text(json.dumps({"seed": seed, "epochs": 2,
                                               **({"extra": 1} if platform == "gpu" else {})}))
  (run / "metrics.jsonl").write_text("".join(
      json.dumps({"epoch": k + 1, "valid_accuracy": 1 - v}) + "\n" for k, v in enumerate(valids)))


def test_best_runs_per_platform_against_the_target(tmp_path):
  for platform, errors in (("cpu", (0.0030, 0.0040)), ("gpu", (0.0045, 0.0047))):
    for seed, error in enumerate(errors):
      write_run(tmp_path, platform, seed, error, [0.006, 0.004, 0.005])
  runs = best_runs.load_runs(str(tmp_path))
  assert [(r["platform"], r["summary"]["seed"]) for r in runs] == [
      ("cpu", 0), ("cpu", 1), ("gpu", 0), ("gpu", 1)]
  seeds, means, platforms, differences = best_runs.findings(runs, target=0.004)
  assert seeds.cells[0][2] == "0.40 (epoch 2)"  # the lowest validation error, not the last
  assert means.rows == ["cpu (2 runs)", "gpu (2 runs)", "all (4 runs)"]
  assert [row[2] for row in means.cells] == ["yes", "no", "no"]  # means 0.35, 0.46, 0.405%
  assert means.cells[2][0] == [0.0030, 0.0040, 0.0045, 0.0047]
  assert platforms.a == [0.0030, 0.0040] and platforms.b == [0.0045, 0.0047]
  assert differences.value == "extra"
