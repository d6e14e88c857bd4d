"""Data parallelism over a device mesh, and several seeds trained in lockstep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from convnets.configs import configure
from convnets.configs.default import get_config
from convnets.train import train_and_evaluate
from convnets.train.loop import train_seeds
from convnets.train.workdir import read_jsonl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small_config(**overrides):
  return configure(get_config(), {"data.train_subset": 1024, "epochs": 2, "batch_size": 64,
                                  **overrides})


def test_eight_devices_match_one_device(tmp_path):
  """The same run sharded over 8 (fake CPU) devices gives the same metrics."""
  script = textwrap.dedent(f"""
      import json, jax
      from convnets.configs import configure
      from convnets.configs.default import get_config
      from convnets.train import train_and_evaluate
      assert jax.device_count() == 8, jax.devices()
      out = {{}}
      for n in (1, 8):
        config = configure(get_config(), {{"data.train_subset": 1024, "epochs": 2,
                                          "batch_size": 64, "num_devices": n}})
        out[n] = train_and_evaluate(config, {str(tmp_path)!r} + f"/d{{n}}", log=lambda s: None)
      print(json.dumps(out))
  """)
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
             PYTHONPATH=ROOT)
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  runs = json.loads(result.stdout.strip().splitlines()[-1])
  one, eight = runs["1"], runs["8"]
  assert (one["devices"], eight["devices"]) == (1, 8)
  assert eight["test_accuracy"] == pytest.approx(one["test_accuracy"], abs=2e-3)
  h1 = read_jsonl(str(tmp_path / "d1" / "metrics.jsonl"))
  h8 = read_jsonl(str(tmp_path / "d8" / "metrics.jsonl"))
  for a, b in zip(h1, h8):
    assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-3)
    assert b["valid_loss"] == pytest.approx(a["valid_loss"], rel=1e-3)


def test_batch_not_divisible_by_devices_is_refused(tmp_path):
  script = textwrap.dedent(f"""
      from convnets.configs.default import get_config
      from convnets.train import train_and_evaluate
      config = get_config()
      config.batch_size, config.num_devices = 60, 8
      train_and_evaluate(config, {str(tmp_path / "run")!r})
  """)
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
             PYTHONPATH=ROOT)
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
  assert result.returncode != 0
  assert "config.batch_size=60: must be divisible by the 8 devices" in result.stderr
  assert not (tmp_path / "run").exists()


def test_seeds_in_lockstep_match_seeds_one_by_one(mnist, tmp_path):
  config = small_config(**{"model.name": "mlp_300"})
  together = train_seeds(config, [0, 1], [str(tmp_path / "t0"), str(tmp_path / "t1")],
                         data=mnist, log=lambda s: None)
  for seed, summary in zip([0, 1], together):
    alone = train_and_evaluate(small_config(**{"model.name": "mlp_300", "seed": seed}),
                               str(tmp_path / f"a{seed}"), data=mnist, log=lambda s: None)
    assert summary["seed"] == seed and summary["seeds_trained_together"] == 2
    assert summary["test_accuracy"] == pytest.approx(alone["test_accuracy"], abs=2e-3)
    a = read_jsonl(str(tmp_path / f"a{seed}" / "metrics.jsonl"))
    t = read_jsonl(str(tmp_path / f"t{seed}" / "metrics.jsonl"))
    assert [r["train_loss"] for r in t] == pytest.approx([r["train_loss"] for r in a],
                                                         rel=1e-3)
  assert together[0]["test_accuracy"] != together[1]["test_accuracy"]
