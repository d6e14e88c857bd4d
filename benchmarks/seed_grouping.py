"""How an experiment's seeds should share the machine: one after another,
together in lockstep (vmapped, one compiled program), or as parallel processes.

Trains one variant's seeds (the lecture ConvNet, default settings on a
training subset) three ways, each from a fresh process and an empty
compilation cache, and times the whole: ``sequential`` (one process, one seed
after another), ``lockstep`` (one process, the seeds vmapped together) and
``processes`` (one process per seed, all at once). The fastest is what
``SEEDS_TOGETHER`` in ``convnets/experiment/runs.py`` (sequential or lockstep)
and the README's advice on parallel processes should say for this backend.

  python benchmarks/seed_grouping.py [--seeds=3] [--epochs=2] [--train_subset=10000]

Prints one line per way and writes ``seed_grouping_<platform>.json``.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

flags.DEFINE_integer("seeds", 3, "Seeds of the variant.")
flags.DEFINE_integer("epochs", 2, "Epochs per seed.")
flags.DEFINE_integer("train_subset", 10_000, "Training examples per epoch.")
flags.DEFINE_string("out", os.path.join(ROOT, "results", "benchmarks"), "Output folder.")
flags.DEFINE_string("child", None, "Internal: train the seeds in this process, 'sequential' "
                    "or 'lockstep', into the --child_workdir.")
flags.DEFINE_string("child_workdir", None, "Internal: see --child.")
FLAGS = flags.FLAGS
WAYS = ("sequential", "lockstep", "processes")


def overrides() -> dict[str, object]:
  """The variant's settings that differ from the default config's."""
  return {"epochs": FLAGS.epochs, "data.train_subset": FLAGS.train_subset, "pictures": False,
          "tensorboard": False}


def train_here(way: str, workdir: str) -> None:
  """The child: the variant's seeds in this process, through the experiment runner."""
  from convnets.compilation_cache import enable  # noqa: E402  (after the path set-up)
  from convnets.configs import configure
  from convnets.configs.default import get_config
  from convnets.data import load
  from convnets.experiment import runs

  enable()
  config = configure(get_config(), overrides())
  data = load(None)
  runs.train_variant(config, list(range(FLAGS.seeds)), workdir, "convnet", data=data,
                     resume_runs=False, log=lambda line: None, together=way == "lockstep")


def timed(way: str, tmp: str) -> float:
  """Wall seconds for all the seeds, trained ``way``, from fresh processes."""
  env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=os.path.join(tmp, f"cache-{way}"))
  workdir = os.path.join(tmp, way)
  start = time.perf_counter()
  if way == "processes":
    children = [subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "run_experiment.py"), f"--config.seed={seed}",
         f"--workdir={workdir}/seed{seed}",
         *[f"--config.{key}={value}" for key, value in overrides().items()]], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for seed in range(FLAGS.seeds)]
    for child in children:
      if child.wait() != 0:
        raise RuntimeError(child.stderr.read().decode()[-2000:])
  else:
    subprocess.run([sys.executable, os.path.abspath(__file__), f"--child={way}",
                    f"--child_workdir={workdir}", f"--seeds={FLAGS.seeds}",
                    f"--epochs={FLAGS.epochs}", f"--train_subset={FLAGS.train_subset}"],
                   check=True, env=env, cwd=ROOT, capture_output=True)
  return time.perf_counter() - start


def main(argv: list[str]) -> None:
  del argv
  if FLAGS.child:
    train_here(FLAGS.child, FLAGS.child_workdir)
    return
  import jax  # noqa: E402

  with tempfile.TemporaryDirectory() as tmp:
    seconds = {}
    for way in WAYS:
      seconds[way] = timed(way, tmp)
      print(f"{way}: {seconds[way]:.1f} s for {FLAGS.seeds} seeds", flush=True)
  platform = jax.default_backend()
  bench = {"platform": platform, "cpu_count": os.cpu_count(), "jax": jax.__version__,
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
           "seeds": FLAGS.seeds, "epochs": FLAGS.epochs, "train_subset": FLAGS.train_subset,
           "load_average_after": os.getloadavg()[0], "seconds": seconds,
           "fastest": min(seconds, key=seconds.get)}
  os.makedirs(FLAGS.out, exist_ok=True)
  with open(os.path.join(FLAGS.out, f"seed_grouping_{platform}.json"), "w") as f:
    json.dump(bench, f, indent=1)
    f.write("\n")
  print(f"fastest: {bench['fastest']}")


if __name__ == "__main__":
  app.run(main)
