"""The yardstick for our CPU speed: a straightforward PyTorch loop training the
lecture's ConvNet (20 maps 5x5, 2x2 max-pool, 100 hidden, 10 outputs;
289,630 weights) with the same optimiser and batch size as our default
config (Adam 2e-3, batch 128), no augmentation, the 50,000 training digits.

PyTorch is not one of our dependencies; run this from a separate virtual
environment:

  python -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy
  /tmp/torch/bin/python benchmarks/pytorch_reference.py --data_dir=DIR [--epochs=3]

Prints examples/s per epoch and their median over the epochs after the first,
the number ``benchmarks/train_throughput.py`` is compared against.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx_module():
  """``convnets/data/idx.py`` alone (plain NumPy), without the package and its JAX imports."""
  spec = importlib.util.spec_from_file_location("idx", os.path.join(ROOT, "convnets", "data",
                                                                    "idx.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", default=os.environ.get("CONVNETS_DATA_DIR"))
  parser.add_argument("--epochs", type=int, default=3)
  parser.add_argument("--batch_size", type=int, default=128)
  args = parser.parse_args()
  if not args.data_dir:
    parser.error("pass --data_dir (the folder with the MNIST IDX .gz files) or set "
                 "CONVNETS_DATA_DIR")
  idx = read_idx_module()
  images = idx.read_idx(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz"),
                        idx.IMAGES_MAGIC)[:50_000]
  labels = idx.read_idx(os.path.join(args.data_dir, "train-labels-idx1-ubyte.gz"),
                        idx.LABELS_MAGIC)[:50_000]
  x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # NCHW
  y = torch.from_numpy(labels.astype(np.int64))

  torch.manual_seed(0)
  model = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(20 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10))
  assert sum(p.numel() for p in model.parameters()) == 289_630
  optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
  loss_fn = nn.CrossEntropyLoss()
  steps = len(x) // args.batch_size
  rates = []
  print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch "
        f"{args.batch_size}, {steps} steps per epoch")
  for epoch in range(1, args.epochs + 1):
    order = torch.randperm(len(x))
    start = time.perf_counter()
    correct = 0
    for i in range(steps):
      batch = order[i * args.batch_size:(i + 1) * args.batch_size]
      logits = model(x[batch])
      loss = loss_fn(logits, y[batch])
      optimizer.zero_grad()
      loss.backward()
      optimizer.step()
      correct += (logits.argmax(1) == y[batch]).sum().item()
    seconds = time.perf_counter() - start
    rates.append(steps * args.batch_size / seconds)
    print(f"epoch {epoch}: {seconds:.2f} s, {rates[-1]:,.0f} examples/s, train accuracy "
          f"{correct / (steps * args.batch_size):.4f}")
  print(f"median examples/s after the first epoch: "
        f"{statistics.median(rates[1:] or rates):,.0f}")


if __name__ == "__main__":
  main()
