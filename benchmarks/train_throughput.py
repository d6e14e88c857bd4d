"""Training speed of the registered models, as a researcher meets it.

Each (model, batch size) runs as its own ``run_experiment.py`` command, so
compile time, peak memory and time-to-accuracy are those of a real launch:

* throughput: examples/s, median over the epochs after the first;
* compile: seconds to compile the step and evaluation before epoch 1;
* peak memory: the accelerator's peak, or the process's maximum RSS on CPU;
* time-to-accuracy: wall seconds from the command's start (imports, data
  loading and compilation included) until the test accuracy, measured after
  every epoch, first reaches the target (99.0% for ConvNets, 98.0% for MLPs).

  python benchmarks/train_throughput.py                       # the full table
  python benchmarks/train_throughput.py --models=convnet --batch_sizes=128 --epochs=3

Writes ``train_throughput_<platform>.md`` and ``.json`` to ``--out``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = {"convnet": 0.99, "lenet5": 0.99, "mlp_300": 0.98}

flags.DEFINE_list("models", ["convnet", "lenet5", "mlp_300"], "Registered model names.")
flags.DEFINE_list("batch_sizes", ["64", "128", "256", "512"], "Batch sizes to time.")
flags.DEFINE_integer("epochs", 12, "Epochs per run (the default config's schedule length).")
flags.DEFINE_integer("seed", 0, "Seed of every run.")
flags.DEFINE_string("out", os.path.join(ROOT, "results", "benchmarks"), "Output folder.")
flags.DEFINE_string("data_dir", None, "MNIST folder (default: $CONVNETS_DATA_DIR).")
FLAGS = flags.FLAGS


def run_once(model: str, batch_size: int, workdir: str) -> dict:
  """Launch one training command and measure it from the outside."""
  command = [sys.executable, os.path.join(ROOT, "run_experiment.py"), f"--model={model}",
             f"--workdir={workdir}", f"--config.seed={FLAGS.seed}",
             f"--config.batch_size={batch_size}", f"--config.epochs={FLAGS.epochs}",
             "--config.test_every_epoch=True"]
  if FLAGS.data_dir:
    command.append(f"--data_dir={FLAGS.data_dir}")
  start = time.time()
  process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
  output = process.stdout.read()
  _, status, usage = os.wait4(process.pid, 0)
  if status != 0:
    raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
  with open(os.path.join(workdir, "summary.json")) as f:
    summary = json.load(f)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    history = [json.loads(line) for line in f]
  rates = [h["examples_per_second"] for h in history[1:]] or [history[0]["examples_per_second"]]
  target = TARGETS.get(model, 0.99)
  reached = next((h for h in history if h["test_accuracy"] >= target), None)
  peak_mb = summary["peak_memory_mb"]
  if summary["platform"] == "cpu":
    peak_mb = usage.ru_maxrss / 1024  # the child's own maximum RSS (KiB on Linux)
  return {
      "model": model, "batch_size": batch_size, "params": summary["params"],
      "examples_per_second": statistics.median(rates),
      "seconds_per_epoch": statistics.median(h["epoch_seconds"] for h in history[1:] or history),
      "compile_seconds": summary["compile_seconds"], "peak_memory_mb": peak_mb,
      "target_accuracy": target,
      "time_to_accuracy_seconds": reached["wall_time"] - start if reached else None,
      "epochs_to_accuracy": reached["epoch"] if reached else None,
      "final_test_accuracy": summary["test_accuracy"], "epochs": summary["epochs"],
      "command_seconds": time.time() - start, "platform": summary["platform"],
      "devices": summary["devices"],
  }


def machine() -> str:
  import jax  # only here: the runs themselves happen in child processes
  device = jax.devices()[0]
  return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"{jax.default_backend()} backend: {device.device_kind} x{jax.device_count()}; "
          f"jax {jax.__version__}")


def markdown(rows: list[dict], description: str) -> str:
  lines = [f"# Training throughput ({description})", "",
           f"Seed {FLAGS.seed}, {FLAGS.epochs} epochs per run, default config otherwise "
           "(Adam, cosine schedule, random shifts). Throughput is the median over epochs 2..N; "
           "time-to-accuracy counts from the command's start (imports, data loading and "
           "compilation included) to the end of the first epoch whose test accuracy reaches "
           "the target.", "",
           "| model | params | batch | examples/s | s/epoch | compile s | peak MB | "
           "target | time to target (s) | epochs to target | final test acc |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
  for r in rows:
    tta = "not reached" if r["time_to_accuracy_seconds"] is None else \
        f"{r['time_to_accuracy_seconds']:.1f}"
    lines.append(
        f"| {r['model']} | {r['params']:,} | {r['batch_size']} | "
        f"{r['examples_per_second']:,.0f} | {r['seconds_per_epoch']:.2f} | "
        f"{r['compile_seconds']:.1f} | {r['peak_memory_mb']:,.0f} | "
        f"{100 * r['target_accuracy']:.1f}% | {tta} | {r['epochs_to_accuracy'] or '-'} | "
        f"{100 * r['final_test_accuracy']:.2f}% |")
  return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
  del argv
  description = machine()
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    for model in FLAGS.models:
      for batch_size in map(int, FLAGS.batch_sizes):
        row = run_once(model, batch_size, os.path.join(tmp, f"{model}-{batch_size}"))
        rows.append(row)
        print(f"{model} batch {batch_size}: {row['examples_per_second']:,.0f} ex/s, "
              f"compile {row['compile_seconds']:.1f}s, peak {row['peak_memory_mb']:,.0f} MB, "
              f"time to {100 * row['target_accuracy']:.0f}%: "
              f"{row['time_to_accuracy_seconds']}", flush=True)
  os.makedirs(FLAGS.out, exist_ok=True)
  name = f"train_throughput_{rows[0]['platform']}"
  table = markdown(rows, description)
  with open(os.path.join(FLAGS.out, name + ".md"), "w") as f:
    f.write(table)
  with open(os.path.join(FLAGS.out, name + ".json"), "w") as f:
    json.dump({"machine": description, "rows": rows}, f, indent=2)
  print("\n" + table)


if __name__ == "__main__":
  app.run(main)
