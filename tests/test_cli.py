"""The entry point as a user meets it: one-line errors, nothing misleading written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, os.path.join(ROOT, "run_experiment.py"), *args],
                        capture_output=True, text=True, cwd=ROOT, timeout=300,
                        env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, message", [
    (["--data_dir=/nonexistent/mnist"], "MNIST files not found: looked for"),
    (["--model=lenet9"], "unknown model 'lenet9'; did you mean lenet5"),
    (["--config.optimizer.learning_rate=-0.1"],
     "config.optimizer.learning_rate=-0.1: must be > 0"),
    (["--config.epochs=0"], "config.epochs=0: must be an integer >= 1"),
    (["--config.model.pooling=median"], "unknown pooling 'median'"),
    (["--config.model.polling=avg"], "--config.model.polling: the config has no such field; "
     "did you mean --config.model.pooling"),
    (["--config.learning_rate=0.1"], "did you mean --config.optimizer.learning_rate"),
    (["--config.augment.name=rotate"], "config.augment.name='rotate': must be one of"),
    (["--config.model.conv_features=(3"], "setting conv_features=('(3',) should be like"),
    (["--config=/nonexistent/config.py"], "No such file or directory"),
    (["--model=lenet5", "--config=convnets/configs/best.py"], "--model sets the default"),
    (["--model=lenet5", "--config.data.preprocess=scale"], "cannot take the 28x28x1 inputs"),
    (["--experiment=polling"], "unknown experiment 'polling'; did you mean pooling?"),
    (["--experiment=pooling", "--variants="], "--variants is empty"),
    (["--config.data.train_subset=70000"], "config.data.train_subset=70000: larger than"),
    (["stray"], "unexpected arguments: stray"),
])
def test_bad_input_is_one_line_and_writes_nothing(args, message, tmp_path):
  workdir = tmp_path / "run"
  result = run_cli(f"--workdir={workdir}", *args)
  assert result.returncode != 0
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: ") and message in last, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  assert not workdir.exists()


def test_corrupt_data_file_is_named(tmp_path, mnist_dir):
  src = mnist_dir
  data = tmp_path / "mnist"
  data.mkdir()
  for name in os.listdir(src):
    if name.endswith(".gz"):
      (data / name).write_bytes(open(os.path.join(src, name), "rb").read())
  (data / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
  result = run_cli(f"--workdir={tmp_path / 'run'}", f"--data_dir={data}")
  assert result.returncode != 0
  assert "t10k-labels-idx1-ubyte.gz" in result.stderr.strip().splitlines()[-1]
  assert not (tmp_path / "run").exists()


def test_a_tiny_run_end_to_end(tmp_path):
  workdir = tmp_path / "run"
  result = run_cli(f"--workdir={workdir}", "--model=mlp_300", "--config.seed=3",
                   "--config.data.train_subset=500", "--config.epochs=1")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "test accuracy" in result.stdout and "epoch   1/1" in result.stdout
  summary = json.loads((workdir / "summary.json").read_text())
  assert summary["model"] == "mlp_300" and summary["seed"] == 3 and summary["epochs"] == 1
  phases = summary["phase_seconds"]
  assert set(phases) == {"import", "data", "compile", "train", "validate", "test", "outputs"}
  assert all(seconds >= 0 for seconds in phases.values())
  assert phases["train"] == summary["train_seconds"]
  assert phases["compile"] == summary["compile_seconds"]
  record, = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert phases["validate"] == pytest.approx(record["eval_seconds"])
  # import: the interpreter, JAX and the config, before the run's own clock starts at
  # total_seconds' zero; outputs come after total_seconds' end.
  assert phases["import"] > 0
  timed = sum(phases[k] for k in ("data", "compile", "train", "validate", "test"))
  assert timed <= summary["total_seconds"]
  # The same workdir again is refused and keeps the first results.
  again = run_cli(f"--workdir={workdir}", "--model=mlp_300",
                  "--config.data.train_subset=500", "--config.epochs=1")
  assert again.returncode != 0 and "already holds results" in again.stderr
  assert json.loads((workdir / "summary.json").read_text()) == summary
