"""The yardstick for our CPU speed: a straightforward PyTorch loop training the
lecture's ConvNet (20 maps 5x5, 2x2 max-pool, 100 hidden, 10 outputs;
289,630 weights) with the same optimiser and batch as ours (Adam 2e-3 at a
constant rate, batch 128, no augmentation, the 50,000 training digits),
eager and under ``torch.compile``, and our own training of the same model and
settings (``run_experiment.py``) in the same benchmark run, interleaved so
that the machine's drift hits them alike.

PyTorch is not one of our dependencies; run this from a separate virtual
environment, pointing ``--ours_python`` at the project's:

  python -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy
  /tmp/torch/bin/python benchmarks/pytorch_reference.py --data_dir=DIR \\
      --ours_python=.venv/bin/python [--epochs=3] [--rounds=2]

Ours runs with its default training loop and with ``--config.loop=scan``.
Throughput is training examples/s (no evaluation), the median over the epochs
after the first, the best of the rounds. Prints each run and writes
``pytorch_reference_cpu.json`` (``--out``); the README's table is rendered
from it (``python -m experiments.publish``).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = ("--config.augment.name=none", "--config.optimizer.schedule=constant",
        "--config.optimizer.learning_rate=0.002", "--config.batch_size=128",
        "--config.pictures=False", "--config.tensorboard=False")


def read_idx_module():
  """``convnets/data/idx.py`` alone (plain NumPy), without the package and its JAX imports."""
  spec = importlib.util.spec_from_file_location("idx", os.path.join(ROOT, "convnets", "data",
                                                                    "idx.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load(data_dir: str) -> tuple[torch.Tensor, torch.Tensor]:
  """The first 50,000 training digits, ``(N, 1, 28, 28)`` float in [0, 1], and their labels."""
  idx = read_idx_module()
  images = idx.read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"),
                        idx.IMAGES_MAGIC)[:50_000]
  labels = idx.read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"),
                        idx.LABELS_MAGIC)[:50_000]
  return (torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1),
          torch.from_numpy(labels.astype(np.int64)))


def torch_rates(x: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int,
                compiled: bool) -> list[float]:
  """Examples/s of each epoch of the PyTorch loop (``torch.compile``-d with ``compiled``)."""
  torch.manual_seed(0)
  model = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(20 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10))
  assert sum(p.numel() for p in model.parameters()) == 289_630
  forward = torch.compile(model) if compiled else model
  optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
  loss_fn = nn.CrossEntropyLoss()
  steps = len(x) // batch_size
  rates = []
  for _ in range(epochs):
    order = torch.randperm(len(x))
    start = time.perf_counter()
    correct = torch.zeros((), dtype=torch.int64)
    for i in range(steps):
      batch = order[i * batch_size:(i + 1) * batch_size]
      logits = forward(x[batch])
      loss = loss_fn(logits, y[batch])
      optimizer.zero_grad()
      loss.backward()
      optimizer.step()
      correct += (logits.argmax(1) == y[batch]).sum()  # on the device: no sync per step
    correct.item()
    rates.append(steps * batch_size / (time.perf_counter() - start))
  return rates


def our_rates(python: str, data_dir: str, *, epochs: int, loop: str) -> list[float]:
  """Examples/s of each epoch of ``run_experiment.py`` with the same model and
  settings, and training ``loop`` (``config.loop``)."""
  with tempfile.TemporaryDirectory() as workdir:
    subprocess.run([python, os.path.join(ROOT, "run_experiment.py"), f"--workdir={workdir}/run",
                    f"--data_dir={data_dir}", f"--config.epochs={epochs}",
                    f"--config.loop={loop}", *OURS],
                   check=True, capture_output=True, text=True, cwd=ROOT)
    with open(os.path.join(workdir, "run", "metrics.jsonl")) as f:
      return [json.loads(line)["examples_per_second"] for line in f]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", default=os.environ.get("CONVNETS_DATA_DIR"))
  parser.add_argument("--ours_python", required=True,
                      help="the Python of the project's environment (with JAX)")
  parser.add_argument("--epochs", type=int, default=3)
  parser.add_argument("--rounds", type=int, default=2)
  parser.add_argument("--out", default=os.path.join(ROOT, "results", "benchmarks"))
  args = parser.parse_args()
  if not args.data_dir:
    parser.error("pass --data_dir (the folder with the MNIST IDX .gz files) or set "
                 "CONVNETS_DATA_DIR")
  x, y = load(args.data_dir)
  runs = {"eager": lambda: torch_rates(x, y, epochs=args.epochs, batch_size=128, compiled=False),
          "compiled": lambda: torch_rates(x, y, epochs=args.epochs, batch_size=128,
                                          compiled=True),
          "ours": lambda: our_rates(args.ours_python, args.data_dir, epochs=args.epochs,
                                    loop="auto"),
          "ours_scan": lambda: our_rates(args.ours_python, args.data_dir, epochs=args.epochs,
                                         loop="scan")}
  best = {name: 0.0 for name in runs}
  for round_ in range(args.rounds):
    for name, run in runs.items():
      rates = run()
      median = statistics.median(rates[1:] or rates)
      best[name] = max(best[name], median)
      print(f"round {round_ + 1} {name}: {', '.join(f'{r:,.0f}' for r in rates)} examples/s",
            flush=True)
  descriptions = {"eager": "PyTorch, eager", "compiled": "PyTorch, `torch.compile`",
                  "ours": "ours (`run_experiment.py`, the same model and settings)",
                  "ours_scan": "ours, with `--config.loop=scan` (one program per epoch)"}
  bench = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU "
                      "cores", "torch": torch.__version__, "threads": torch.get_num_threads(),
           "epochs": args.epochs, "rounds": args.rounds,
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
           "ours_flags": list(OURS),
           "loops": {name: {"description": descriptions[name], "examples_per_second": rate}
                     for name, rate in best.items()}}
  for row in bench["loops"].values():
    print(f"{row['description']}: {row['examples_per_second']:,.0f} examples/s")
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "pytorch_reference_cpu.json"), "w") as f:
    json.dump(bench, f, indent=1)
    f.write("\n")


if __name__ == "__main__":
  main()
