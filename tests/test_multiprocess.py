"""One run over two processes joined by ``jax.distributed.initialize``
(:func:`convnets.runtime.maybe_initialize_distributed`): each process
computes its half of every global batch, the gradients are all-reduced over
gloo, and the numbers are one process's; only process 0 writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from convnets.configs import configure
from convnets.configs.default import get_config
from convnets.data import MNIST
from convnets.runtime import DistributedError, distributed_settings
from convnets.train import train_and_evaluate
from convnets.train.workdir import read_jsonl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = 320
FIELDS = {"model.name": "mlp_300", "augment.name": "none", "epochs": 1, "batch_size": 32,
          "tensorboard": False, "pictures": False}
SCRIPT = textwrap.dedent(f"""
    import json, sys
    from convnets.runtime import maybe_initialize_distributed
    assert maybe_initialize_distributed()
    import jax
    from convnets.configs import configure
    from convnets.configs.default import get_config
    from convnets.data import MNIST, load
    from convnets.train import train_and_evaluate
    data = load()
    data = MNIST(*(split.take({EXAMPLES}) for split in (data.train, data.valid, data.test)))
    summary = train_and_evaluate(configure(get_config(), {FIELDS!r}), sys.argv[1], data=data,
                                 log=lambda line: None)
    print(json.dumps({{"summary": summary, "process": jax.process_index(),
                      "devices": [d.process_index for d in jax.devices()]}}))
""")


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_two_processes_train_one_run_as_one_process_does(mnist, mnist_dir, tmp_path):
  port = free_port()
  procs = []
  for rank in (0, 1):
    env = dict(os.environ, PYTHONPATH=ROOT, CONVNETS_DATA_DIR=mnist_dir,
               JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2",
               JAX_PROCESS_ID=str(rank))
    procs.append(subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / f"p{rank}")],
                                  env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True))
  outputs = [p.communicate(timeout=300) for p in procs]
  for p, (out, err) in zip(procs, outputs):
    assert p.returncode == 0, err[-3000:]
  ran = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
  assert [r["process"] for r in ran] == [0, 1]
  assert sorted(ran[0]["devices"]) == [0, 1]  # one mesh over both processes' devices
  data = MNIST(*(split.take(EXAMPLES) for split in (mnist.train, mnist.valid, mnist.test)))
  alone = train_and_evaluate(configure(get_config(), FIELDS), str(tmp_path / "alone"),
                             data=data, log=lambda line: None)
  for r in ran:
    both = r["summary"]
    assert both["devices"] == 2 and alone["devices"] == 1
    for key in ("test_error", "valid_error", "train_accuracy"):
      assert both[key] == pytest.approx(alone[key], abs=1.5 / EXAMPLES), key
    assert both["test_loss"] == pytest.approx(alone["test_loss"], rel=1e-4)
  shared, own = (read_jsonl(str(tmp_path / d / "metrics.jsonl"))[-1] for d in ("p0", "alone"))
  for key in ("train_loss", "valid_loss"):
    assert shared[key] == pytest.approx(own[key], rel=1e-4), key
  assert not (tmp_path / "p1").exists()  # process 1 wrote nothing


@pytest.mark.parametrize("env, message", [
    ({"JAX_NUM_PROCESSES": "2"}, "JAX_NUM_PROCESSES set without JAX_COORDINATOR_ADDRESS, "
     "JAX_PROCESS_ID"),
    ({"JAX_COORDINATOR_ADDRESS": "localhost:1", "JAX_NUM_PROCESSES": "2",
      "JAX_PROCESS_ID": "2"}, "JAX_PROCESS_ID=2: must be an integer from 0 to 1"),
    ({"JAX_COORDINATOR_ADDRESS": "localhost", "JAX_NUM_PROCESSES": "2",
      "JAX_PROCESS_ID": "0"}, "JAX_COORDINATOR_ADDRESS=localhost: must be HOST:PORT"),
    ({"JAX_COORDINATOR_ADDRESS": "localhost:1", "JAX_NUM_PROCESSES": "two",
      "JAX_PROCESS_ID": "0"}, "JAX_NUM_PROCESSES=two: must be an integer >= 1"),
])
def test_inconsistent_coordinator_settings_are_refused(env, message):
  with pytest.raises(DistributedError, match=message):
    distributed_settings(env)


def test_settings_pass_to_jax_as_given():
  env = {"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "4",
         "JAX_PROCESS_ID": "3"}
  assert distributed_settings(env) == {"coordinator_address": "10.0.0.1:1234",
                                       "num_processes": 4, "process_id": 3}
  assert distributed_settings({}) is None
  assert distributed_settings({"SLURM_NTASKS": "2"}) == {}  # JAX reads SLURM's itself
  assert distributed_settings({"SLURM_NTASKS": "1"}) is None


def test_the_command_line_names_the_bad_variable(tmp_path):
  env = dict(os.environ, JAX_COORDINATOR_ADDRESS="localhost:1", JAX_NUM_PROCESSES="2",
             JAX_PROCESS_ID="5")
  result = subprocess.run([sys.executable, "run_experiment.py", f"--workdir={tmp_path / 'w'}"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [
      "error: JAX_PROCESS_ID=5: must be an integer from 0 to 1 (JAX_NUM_PROCESSES=2; each "
      "process its own)"]
  assert not (tmp_path / "w").exists()
