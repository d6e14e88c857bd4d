"""An experiment as a submitit job array (``--launcher=submitit``,
:mod:`convnets.experiment.launch`): the same numbers as the direct run, with
submitit's local executor (real subprocesses) and its debug executor (in
this process), and after one job is preempted (requeued from its checkpoint)
and another killed (resubmitted by ``--resume``)."""

from __future__ import annotations

import fcntl
import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from convnets.configs import configure
from convnets.configs.default import get_config
from convnets.data import MNIST
from convnets.experiment import launch
from convnets.experiment.runner import run_experiment
from convnets.experiment.runs import run_dir
from convnets.experiment.spec import Experiment, Settings, Variant
from convnets.train.checks import ConfigError
from convnets.train.lock import LOCK_FILE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES, EPOCHS = 300, 6
EXPERIMENT = Experiment(
    name="cluster_check", title="t", question="q", motivation="m", method="m",
    variants=(Variant("relu", "ReLU", {"model.activation": "relu"}),
              Variant("tanh", "tanh", {"model.activation": "tanh"})),
    epochs=1, overrides={"model.name": "mlp_300", "augment.name": "none", "batch_size": 10,
                         "tensorboard": False, "pictures": False})


@pytest.fixture(scope="module")
def data(mnist) -> MNIST:
  """The first examples of every split: what the jobs take from the files too."""
  return MNIST(*(split.take(EXAMPLES) for split in (mnist.train, mnist.valid, mnist.test)))


@pytest.fixture(autouse=True)
def jobs_find_the_code(monkeypatch, mnist_dir):
  """The local executor's jobs are new Pythons: they import convnets from
  here and read MNIST from the tests' folder."""
  monkeypatch.setenv("PYTHONPATH", ROOT)
  monkeypatch.setenv("CONVNETS_DATA_DIR", mnist_dir)


def numbers(results: dict) -> dict[tuple[str, int], tuple[float, ...]]:
  """Every run's test error and accuracy, validation error, and last training loss."""
  return {(v["name"], run["seed"]): (run["test_error"], run["test_accuracy"],
                                     run["valid_error"], run["curves"][-1]["train_loss"])
          for v in results["variants"] for run in v["runs"]}


def sweep(workdir, data, *, launcher="local", executor="local", resume=False, wait=True):
  """The quick experiment, with enough steps (6 epochs of 30) to be stopped part-way."""
  config = configure(get_config(), {"cluster.executor": executor, "cluster.wait": wait})
  settings = Settings(seeds=(0,), quick=True, epochs=EPOCHS)
  return run_experiment(EXPERIMENT, str(workdir), config=config, data=data, settings=settings,
                        resume=resume, launcher=launcher, log=lambda line: None)


@pytest.fixture(scope="module")
def direct(data, tmp_path_factory) -> dict:
  return numbers(sweep(tmp_path_factory.mktemp("direct"), data))


@pytest.mark.parametrize("executor", ["local", "debug"])
def test_submitit_executors_give_the_direct_runs_numbers(executor, data, direct, tmp_path):
  results = sweep(tmp_path, data, launcher="submitit", executor=executor)
  assert numbers(results) == direct
  assert len(direct) == 2 and len(set(direct.values())) == 2  # two variants, two outcomes
  assert results["runs_read_back"] == 2  # trained by the jobs, read back for the report
  if executor == "local":  # two jobs of one run each, in their own processes
    assert len(glob.glob(str(tmp_path / "submitit" / "*_0_result.pkl"))) == 2


def test_runs_per_job_groups_the_runs():
  runs_ = [launch.Run(variant=v, seed=s, config=None) for v in "abc" for s in (0, 1)]
  groups = launch.group(runs_, 4)
  assert [len(g) for g in groups] == [4, 2]
  assert [r for g in groups for r in g] == runs_


def hold_after_an_epoch(folders: list[str], timeout: float = 120.0) -> list[int]:
  """The process ids of the jobs training in ``folders``, each stopped
  (SIGSTOP) as soon as it has finished an epoch (a checkpoint exists), so
  that none finishes its run while the others are still being waited for."""
  deadline = time.monotonic() + timeout
  held: dict[str, int] = {}
  while len(held) < len(folders):
    assert time.monotonic() < deadline, f"no job trained an epoch in {set(folders) - set(held)}"
    for folder in set(folders) - set(held):
      metrics = os.path.join(folder, "metrics.jsonl")
      if os.path.exists(metrics) and open(metrics).read().count("\n") >= 1:
        held[folder] = int(open(os.path.join(folder, LOCK_FILE)).read().split()[1])
        os.kill(held[folder], signal.SIGSTOP)
    time.sleep(0.02)
  return [held[folder] for folder in folders]


def wait_unlocked(folder: str, timeout: float = 120.0) -> None:
  """Until no process holds ``folder``'s run lock (the job ended, however)."""
  deadline = time.monotonic() + timeout
  with open(os.path.join(folder, LOCK_FILE)) as handle:
    while time.monotonic() < deadline:
      try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(handle, fcntl.LOCK_UN)
        return
      except BlockingIOError:
        time.sleep(0.05)
  raise AssertionError(f"{folder} still locked after {timeout}s")


def wait_finished(folder: str, timeout: float = 120.0) -> None:
  """Until the run in ``folder`` has written its summary and its job has ended."""
  deadline = time.monotonic() + timeout
  while not os.path.exists(os.path.join(folder, "summary.json")):
    assert time.monotonic() < deadline, f"no run finished in {folder} within {timeout}s"
    time.sleep(0.05)
  wait_unlocked(folder, timeout)


def test_preempted_and_killed_jobs_finish_with_the_uninterrupted_numbers(data, direct,
                                                                          tmp_path):
  """SIGUSR2 (submitit's preemption signal) to one job's process: it saves a
  checkpoint, submitit requeues it, and it resumes. SIGKILL to the other's:
  it ends at once, and ``--resume`` submits its run again, which resumes
  from its last checkpoint. Both end as the uninterrupted runs do."""
  workdir = tmp_path / "sweep"
  assert sweep(workdir, data, launcher="submitit", wait=False) == {}
  preempted, killed = (run_dir(str(workdir), v, 0) for v in ("relu", "tanh"))
  preempted_pid, killed_pid = hold_after_an_epoch([preempted, killed])
  os.kill(killed_pid, signal.SIGKILL)
  os.kill(preempted_pid, signal.SIGUSR2)  # handled once the job goes on
  os.kill(preempted_pid, signal.SIGCONT)
  wait_unlocked(killed)
  assert not os.path.exists(os.path.join(killed, "summary.json"))
  wait_finished(preempted)  # requeued by submitit: it goes on by itself
  results = sweep(workdir, data, launcher="submitit", resume=True)
  assert numbers(results) == direct
  logs = "".join(open(p).read() for p in glob.glob(str(workdir / "submitit" / "*_log.*")))
  assert "Requeued job" in logs and logs.count("resuming the unfinished run") >= 1


def test_bad_cluster_settings_are_one_line_errors(tmp_path, mnist_dir):
  with pytest.raises(ConfigError, match=r"config.cluster.executor='slurm': no SLURM here"):
    launch.check_cluster(configure(get_config(), {}).cluster)
  with pytest.raises(ConfigError, match=r"config.cluster.executor='pbs': must be one of"):
    launch.check_cluster(configure(get_config(), {"cluster.executor": "pbs"}).cluster)
  workdir = tmp_path / "w"
  result = subprocess.run(
      [sys.executable, "run_experiment.py", "--experiment=xcorr_vs_conv", "--quick",
       f"--workdir={workdir}", "--launcher=submitit", "--config.cluster.executor=local",
       "--config.cluster.runs_per_job=0", f"--data_dir={mnist_dir}"],
      capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert result.returncode != 0
  assert result.stderr.strip().splitlines() == [
      "error: config.cluster.runs_per_job=0: must be an integer >= 1"]
  assert not workdir.exists()
