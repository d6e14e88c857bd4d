"""How long from a command to its summary: the fast recipe and the main job.

Runs ``python run_experiment.py --config=convnets/configs/fast.py`` for each
seed twice, first with an empty JAX compilation cache ("cold", as on a new
machine) and then again with the cache the first run filled ("warm", as every
later run), then the main job (the default config) once, warm. Each run is its
own command; its time counts from the command's start to the moment its
``summary.json`` is written, and to the command's exit (the figures are drawn
after the summary). Each run's phases come from its ``summary.json``.

  python benchmarks/fast_recipe.py [--seeds=0,1,2] [--main_job] [--out=results/benchmarks]

Prints the tables and writes ``fast_recipe_<platform>.{json,md}``; the README's
"fast" block is rendered from the JSON. Run it on a quiet machine: the load
average before each run is recorded beside it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform as platform_lib
import subprocess
import sys
import tempfile
import time
from typing import Any

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds of the fast recipe.")
flags.DEFINE_bool("main_job", True, "Also time the main job (the default config), warm.")
flags.DEFINE_string("out", os.path.join(ROOT, "results", "benchmarks"), "Output folder.")
FLAGS = flags.FLAGS
FAST = os.path.join("convnets", "configs", "fast.py")


def timed_run(args: list[str], workdir: str, cache: str) -> dict[str, Any]:
  """One ``run_experiment.py`` command with ``args`` into ``workdir``, the
  compilation cache in ``cache``: its seconds to the summary and to its exit,
  and what its summary says."""
  env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=cache)
  load = os.getloadavg()[0]
  start = time.time()
  subprocess.run([sys.executable, os.path.join(ROOT, "run_experiment.py"),
                  f"--workdir={workdir}", *args], check=True, env=env, capture_output=True,
                 text=True, cwd=ROOT)
  end = time.time()
  summary_path = os.path.join(workdir, "summary.json")
  with open(summary_path) as f:
    summary = json.load(f)
  return {"seconds_to_summary": os.path.getmtime(summary_path) - start,
          "seconds_to_exit": end - start, "load_average_before": load,
          "test_accuracy": summary["test_accuracy"], "valid_accuracy": summary["valid_accuracy"],
          "epochs": summary["epochs"], "examples_per_second": summary["examples_per_second"],
          "phase_seconds": summary["phase_seconds"], "platform": summary["platform"]}


def machine() -> str:
  """The CPU's model name (it changes between sessions of a shared machine) and cores."""
  model = platform_lib.machine()
  if os.path.exists("/proc/cpuinfo"):
    with open("/proc/cpuinfo") as f:
      names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    model = names[0] if names else model
  return f"{model}, {os.cpu_count()} CPU cores"


def main(argv: list[str]) -> None:
  del argv
  import jax  # noqa: E402  (after the path set-up; for its version only)

  runs = []
  main_job = None
  with tempfile.TemporaryDirectory() as tmp:
    for seed in FLAGS.seeds:
      cache = os.path.join(tmp, f"cache-{seed}")
      for state in ("cold", "warm"):
        run = timed_run([f"--config={FAST}", f"--config.seed={seed}"],
                        os.path.join(tmp, f"fast-{seed}-{state}"), cache)
        runs.append({"seed": int(seed), "cache": state, **run})
        print(json.dumps(runs[-1]), flush=True)
    if FLAGS.main_job:
      cache = os.path.join(tmp, "cache-main")
      timed_run([], os.path.join(tmp, "main-fill-cache"), cache)  # the same programs, cached
      main_job = timed_run([], os.path.join(tmp, "main"), cache)
      print(json.dumps(main_job), flush=True)
  bench = {"machine": machine(), "jax": jax.__version__, "platform": runs[0]["platform"],
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
           "config": FAST, "fast_recipe": runs, "main_job": main_job}
  from convnets.experiment import overview  # noqa: E402

  name = f"fast_recipe_{bench['platform']}"
  source = os.path.join("results", "benchmarks", name + ".json")
  text = overview.fast_recipe(bench, source)
  print(text)
  os.makedirs(FLAGS.out, exist_ok=True)
  with open(os.path.join(FLAGS.out, name + ".json"), "w") as f:
    json.dump(bench, f, indent=1)
    f.write("\n")
  with open(os.path.join(FLAGS.out, name + ".md"), "w") as f:
    f.write(f"# The fast recipe and the main job, command to summary ({bench['machine']}, "
            f"{bench['date']})\n\n{text}\n")


if __name__ == "__main__":
  app.run(main)
