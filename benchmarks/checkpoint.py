"""What checkpointing costs a training run, per epoch.

For the lecture ConvNet (``convnets/configs/default.py``) and the model of
``convnets/configs/best.py``, each with its whole train state (parameters,
Adam's two moments, batch-norm statistics, step, key):

* one save: ``Checkpoints.save`` of the state and the wait until it is on
  disk, synchronous (``config.checkpoint.asynchronous=False``) and
  asynchronous; for an asynchronous save also the part the training thread
  waits for (until ``save`` returns), which is what an epoch pays as long as
  the save has finished by the next;
* epochs with and without checkpoints: one compiled trainer trains
  ``--epochs`` epochs from a fresh state with no checkpoints, with
  synchronous and with asynchronous ones (one after every epoch, as
  ``train_and_evaluate`` saves), the three interleaved ``--repeats`` times
  after an untimed warm-up; the overhead is the difference of the medians
  per epoch.

Epochs run on ``--train_subset`` examples (validating on the 10,000 of the
validation split) to keep the benchmark to minutes; a save costs the same
however long the epoch, so its share of a full 50,000-example epoch is taken
of that epoch's estimated time (the measured training time scaled by the
steps, plus the same validation). The saves are timed on the trained state
the epochs end with.

  python benchmarks/checkpoint.py [--train_subset=10000] [--epochs=1] [--repeats=3]

Prints a Markdown table and writes ``checkpoint_<platform>.{md,json}`` to ``--out``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

flags.DEFINE_list("models", ["convnet", "best"], "Configs to time: convnet (the default "
                  "config) and best (convnets/configs/best.py).")
flags.DEFINE_integer("train_subset", 10_000, "Training examples per epoch.")
flags.DEFINE_integer("epochs", 1, "Epochs per timed training run.")
flags.DEFINE_integer("repeats", 3, "Interleaved rounds of (none, synchronous, asynchronous).")
flags.DEFINE_integer("saves", 10, "Timed saves per mode.")
flags.DEFINE_string("out", os.path.join(ROOT, "results", "benchmarks"), "Output folder.")
FLAGS = flags.FLAGS

MODES = ("none", "synchronous", "asynchronous")
FULL_EPOCH = 50_000


def configs() -> dict[str, Callable[[], Any]]:
  from convnets.configs import best, default
  return {"convnet": default.get_config, "best": best.get_config}


@dataclasses.dataclass
class Bench:
  """One model's compiled trainer and what it trains on."""
  config: Any
  trainer: Any
  pipeline: Any
  lockstep: Any


def build(name: str, data: Any) -> Bench:
  from convnets.configs import configure
  from convnets.train import loop
  from convnets.train.placement import Lockstep

  config = configure(configs()[name](), {"epochs": FLAGS.epochs,
                                         "data.train_subset": FLAGS.train_subset})
  # best.py warms up for an epoch; a short run keeps the warm-up within its epochs.
  config.optimizer.warmup_epochs = min(config.optimizer.warmup_epochs, FLAGS.epochs / 2)
  lockstep = Lockstep((config.seed,))
  model, placement, data, pipeline = loop.setup(config, [config.seed], data, None, False)
  trainer = loop.make_trainer(config, model=model, pipeline=pipeline, lockstep=lockstep,
                              placement=placement)
  loop.compile_all(trainer, pipeline)
  return Bench(config, trainer, pipeline, lockstep)


def fresh(bench: Bench) -> Any:
  """A fresh snapshot on its own copy of the initial state (a step donates its input)."""
  import jax
  import jax.numpy as jnp
  from convnets.train import fit

  snapshot = fit.fresh(bench.config, bench.trainer, bench.lockstep)
  return dataclasses.replace(snapshot, state=jax.tree.map(jnp.array, snapshot.state))


def store(bench: Bench, folder: str, mode: str) -> Any:
  from convnets.train.checkpoints import Checkpoints
  if mode == "none":
    return None
  return Checkpoints([folder], keep=bench.config.checkpoint.keep,
                     asynchronous=mode == "asynchronous")


def time_saves(bench: Bench, folder: str, mode: str, snapshot: Any) -> dict[str, float]:
  """Median seconds until ``save`` of ``snapshot`` returns and until it is on
  disk, and the size of a save (a trained state: Adam's moments of a fresh
  one are zeros, which compress to nothing)."""
  checkpoints = store(bench, folder, mode)
  returned, finished = [], []
  for step in range(1, FLAGS.saves + 1):
    start = time.perf_counter()
    checkpoints.save(step, snapshot, bench.lockstep)
    returned.append(time.perf_counter() - start)
    checkpoints.managers[0].wait_until_finished()
    finished.append(time.perf_counter() - start)
  checkpoints.close()
  path = os.path.join(checkpoints.folders[0], str(FLAGS.saves))
  size = sum(os.path.getsize(os.path.join(parent, f)) for parent, _, files in os.walk(path)
             for f in files)
  return {"returns_s": statistics.median(returned), "on_disk_s": statistics.median(finished),
          "megabytes": size / 1e6}


def time_epochs(bench: Bench, folder: str, mode: str) -> tuple[float, Any]:
  """Seconds per epoch of ``--epochs`` epochs from a fresh state, each
  followed by a checkpoint in ``mode`` (the last one waited for), and the
  snapshot they end with."""
  from convnets.train import fit

  os.makedirs(folder, exist_ok=True)
  checkpoints = store(bench, os.path.join(folder, "run"), mode)
  fitting = fit.Fit(config=bench.config, trainer=bench.trainer, pipeline=bench.pipeline,
                    lockstep=bench.lockstep, workdirs=[folder], primary=True,
                    checkpoints=checkpoints, log=lambda line: None)
  start = time.perf_counter()
  done = fit.run_epochs(fitting, fresh(bench))
  if checkpoints is not None:
    checkpoints.close()
  return (time.perf_counter() - start) / FLAGS.epochs, done


def full_epoch_seconds(bench: Bench, records: list[dict[str, Any]]) -> float:
  """A 50,000-example epoch's estimated seconds: the measured training time
  scaled by its steps, plus the same validation."""
  steps = FULL_EPOCH // bench.config.batch_size
  train = statistics.median(r["epoch_seconds"] for r in records)
  return train * steps / bench.trainer.steps + statistics.median(r["eval_seconds"]
                                                                   for r in records)


def measure(name: str, data: Any, tmp: str) -> dict[str, Any]:
  bench = build(name, data)
  _, done = time_epochs(bench, os.path.join(tmp, f"{name}-warm-up"), "none")
  epochs: dict[str, list[float]] = {mode: [] for mode in MODES}
  for repeat in range(FLAGS.repeats):
    for mode in MODES:
      seconds, done = time_epochs(bench, os.path.join(tmp, f"{name}-{mode}-{repeat}"), mode)
      epochs[mode].append(seconds)
      print(f"{name} {mode}: {seconds:.2f} s/epoch", flush=True)
  saves = {mode: time_saves(bench, os.path.join(tmp, f"{name}-saves-{mode}"), mode, done)
           for mode in MODES[1:]}
  per_epoch = {mode: statistics.median(times) for mode, times in epochs.items()}
  full = full_epoch_seconds(bench, done.histories[0])
  overhead = {m: per_epoch[m] - per_epoch["none"] for m in MODES[1:]}
  return {
      "model": name, "params": bench.trainer.params, "steps_per_epoch": bench.trainer.steps,
      "saves": saves, "epoch_seconds": epochs, "median_epoch_seconds": per_epoch,
      "overhead_seconds": overhead, "full_epoch_seconds_estimate": full,
      "overhead_percent_full_epoch": {m: 100 * overhead[m] / full for m in MODES[1:]},
  }


def table(rows: list[dict[str, Any]], platform: str) -> str:
  lines = [f"# Checkpoint overhead ({platform}, {os.cpu_count()} CPU cores)", "",
           f"One Orbax save of the whole train state (median of {FLAGS.saves}), and epochs of "
           f"{FLAGS.train_subset:,} examples with a checkpoint after each against none "
           f"(median of {FLAGS.repeats} interleaved rounds of {FLAGS.epochs} "
           f"epoch{'s' if FLAGS.epochs > 1 else ''}; the "
           "overhead is the difference; its share of a full 50,000-example epoch is of that "
           "epoch's estimated time, training scaled by its steps plus the same "
           "validation).", "",
           "| model | params | checkpoint MB | sync save s | async save returns s | async save "
           "on disk s | epoch s, none (spread) | epoch s, sync | epoch s, async | overhead "
           "s/epoch sync / async | % of a full epoch sync / async |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
  for r in rows:
    s, e, o, p = (r["saves"], r["median_epoch_seconds"], r["overhead_seconds"],
                  r["overhead_percent_full_epoch"])
    spread = max(r["epoch_seconds"]["none"]) - min(r["epoch_seconds"]["none"])
    lines.append(
        f"| {r['model']} | {r['params']:,} | {s['synchronous']['megabytes']:.1f} | "
        f"{s['synchronous']['on_disk_s']:.3f} | {s['asynchronous']['returns_s']:.3f} | "
        f"{s['asynchronous']['on_disk_s']:.3f} | {e['none']:.2f} ({spread:.2f}) | "
        f"{e['synchronous']:.2f} | {e['asynchronous']:.2f} | {o['synchronous']:+.2f} / "
        f"{o['asynchronous']:+.2f} | {p['synchronous']:+.1f} / {p['asynchronous']:+.1f} |")
  lines += ["", "An epoch-level overhead smaller than the spread of the epochs without "
            "checkpoints is noise; a save's own cost (the columns before) bounds it."]
  return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
  del argv
  import jax
  from absl import logging
  from convnets.data import load

  logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO

  data = load()
  with tempfile.TemporaryDirectory() as tmp:
    rows = [measure(name, data, tmp) for name in FLAGS.models]
  platform = jax.default_backend()
  text = table(rows, platform)
  print(text)
  os.makedirs(FLAGS.out, exist_ok=True)
  with open(os.path.join(FLAGS.out, f"checkpoint_{platform}.md"), "w") as f:
    f.write(text)
  with open(os.path.join(FLAGS.out, f"checkpoint_{platform}.json"), "w") as f:
    json.dump({"settings": {"train_subset": FLAGS.train_subset, "epochs": FLAGS.epochs,
                            "repeats": FLAGS.repeats, "saves": FLAGS.saves,
                            "cpu_count": os.cpu_count()}, "models": rows}, f, indent=2)


if __name__ == "__main__":
  app.run(main)
