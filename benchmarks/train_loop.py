"""Which training loop and allocator are fastest on this backend?

Runs the main job's model (the lecture ConvNet, batch 128) for a few epochs
with each ``config.loop`` (``python``: one jitted call per step; ``scan``: one
``lax.scan`` program per epoch) and, on Linux, with and without tcmalloc
preloaded (``CONVNETS_NO_TCMALLOC=1`` turns it off, see
``convnets/runtime.py``). Each run is its own ``run_experiment.py`` command;
throughput is the median examples/s over epochs 2..N (compilation excluded).

  python benchmarks/train_loop.py [--epochs=4] [--model=convnet] [--out=results/benchmarks]

Prints a Markdown table and writes ``train_loop_<platform>.{md,json}``; the
fastest loop is what ``AUTO_LOOP`` in ``convnets/train/loop.py`` should say.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

flags.DEFINE_string("model", "convnet", "Registered model.")
flags.DEFINE_integer("epochs", 4, "Epochs per run (the first is not timed).")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("repeats", 2, "Runs per setting (interleaved), best median kept.")
flags.DEFINE_string("out", os.path.join(ROOT, "results", "benchmarks"), "Output folder.")
FLAGS = flags.FLAGS


def throughput(loop: str, tcmalloc: bool, workdir: str) -> tuple[float, str]:
  env = dict(os.environ)
  if not tcmalloc:
    env["CONVNETS_NO_TCMALLOC"] = "1"
  command = [sys.executable, os.path.join(ROOT, "run_experiment.py"), f"--model={FLAGS.model}",
             f"--workdir={workdir}", f"--config.loop={loop}", f"--config.epochs={FLAGS.epochs}",
             f"--config.batch_size={FLAGS.batch_size}"]
  subprocess.run(command, check=True, env=env, capture_output=True, text=True)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    history = [json.loads(line) for line in f]
  with open(os.path.join(workdir, "summary.json")) as f:
    platform = json.load(f)["platform"]
  return statistics.median(h["examples_per_second"] for h in history[1:]), platform


def main(argv: list[str]) -> None:
  del argv
  from convnets.runtime import TCMALLOC_PATHS  # noqa: E402  (after the path set-up)
  allocators = [False] + ([True] if any(os.path.exists(p) for p in TCMALLOC_PATHS) else [])
  settings = [(loop, tc) for loop in ("python", "scan") for tc in allocators]
  best: dict[tuple[str, bool], float] = {}
  platform = "?"
  with tempfile.TemporaryDirectory() as tmp:
    for repeat in range(FLAGS.repeats):
      for loop, tc in settings:
        rate, platform = throughput(loop, tc, os.path.join(tmp, f"{loop}-{tc}-{repeat}"))
        best[(loop, tc)] = max(best.get((loop, tc), 0.0), rate)
        print(f"loop={loop} tcmalloc={tc}: {rate:,.0f} examples/s", flush=True)
  fastest = max(best, key=best.get)
  lines = [f"# Training loop and allocator ({platform}, {os.cpu_count()} CPU cores)", "",
           f"{FLAGS.model}, batch {FLAGS.batch_size}, {FLAGS.epochs} epochs per run, best of "
           f"{FLAGS.repeats} interleaved runs of the median examples/s over epochs 2..N.", "",
           "| loop | tcmalloc | examples/s |", "| --- | --- | ---: |"]
  lines += [f"| {loop} | {'yes' if tc else 'no'} | {rate:,.0f} |"
            for (loop, tc), rate in best.items()]
  lines += ["", f"Fastest: loop={fastest[0]}, tcmalloc={'yes' if fastest[1] else 'no'}."]
  table = "\n".join(lines) + "\n"
  os.makedirs(FLAGS.out, exist_ok=True)
  with open(os.path.join(FLAGS.out, f"train_loop_{platform}.md"), "w") as f:
    f.write(table)
  with open(os.path.join(FLAGS.out, f"train_loop_{platform}.json"), "w") as f:
    json.dump([{"loop": loop, "tcmalloc": tc, "examples_per_second": rate}
               for (loop, tc), rate in best.items()], f, indent=2)
  print("\n" + table)


if __name__ == "__main__":
  app.run(main)
