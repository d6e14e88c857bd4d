"""Forward + backward timings of the convolution and pooling implementations at
the sizes the lecture's models use, forward-only timings at the evaluation
batch, and a whole training step.

  python benchmarks/conv_pool.py                  # the full measurement
  python benchmarks/conv_pool.py --quick          # a smoke check (few repetitions)
  python benchmarks/conv_pool.py --out=results/benchmarks

Every timing is the median over ``--reps`` calls of a jitted function, after
warm-up calls (compilation excluded), each waited for with
``block_until_ready``. Writes ``conv_pool_<backend>.{json,md}`` to ``--out``
and prints which convolution ``impl="auto"`` should resolve to on this backend,
per layer, against ``convnets.ops.conv.AUTO_IMPL`` (differentiated) and
``AUTO_FORWARD_IMPL`` (a forward pass alone, as in evaluation).

The layers (batch 128, Lecture 7's simple ConvNet, a second conv layer, and
the deeper models' layers that ``impl="auto"`` must also choose for):

* conv1: 28x28x1 -> 20 maps 5x5; gradients for the kernel and bias only, as in
  training (nothing is below the first layer to receive ``dL/dx``);
* conv2: 12x12x20 -> 40 maps 5x5; gradients for input, kernel and bias (so
  for every layer below);
* lenet5_c3: 14x14x6 -> 16 maps 5x5, LeNet-5's C3 (all 6 maps connected);
* resnet_s1, resnet_s2: 28x28x16 -> 16 and 14x14x32 -> 32 maps 3x3 with
  "SAME" padding: the ``resnet`` model's two stages' layers at twice their
  map size (its stem pools to 14x14 first), a larger 3x3 case;
* small_3x3: 14x14x16 -> 16 maps 3x3 "SAME", where a probe on a shared CPU
  once had XLA ahead;
* best_conv2: 14x14x32 -> 64 maps 5x5 "SAME", the ``best`` configuration's
  second layer (10 of its 11.5 million multiply-adds per digit);
* tiny: 10x10x2 -> 4 maps 5x5, batch 8, the only size at which the naive
  loops (one einsum per output position, the reference) are timed;
* conv1, lenet5_c3, conv2 and best_conv2 with a 2x2 max-pool as one op
  (``convnets.ops.conv2d_max_pool``), by phases and as separate passes, to
  check ``PHASES_BACKENDS``;
* pooling of 24x24x20 maps (conv1's output) over 2x2 regions, and 3x3 regions
  with stride 2 for the overlapping (patch-tensor) path.

The forward-only rows ("conv fwd", "pool fwd") run the same layers at
``EVAL_BATCH`` examples, the default config's evaluation chunk, and so does
the simple ConvNet's whole evaluation pass (conv, ReLU, 2x2 max-pool, hidden
layer, outputs, predicted class) from each convolution and max-pool forward
pass: the layers are timed apart, but XLA fuses across them.

The training step is the simple ConvNet's (batch 128, Adam, softmax
cross-entropy) built (a) from this package's ops with ``impl="auto"``, and
(b) from ``flax.linen.Conv``, ``flax.linen.max_pool`` and ``flax.linen.Dense``:
the same architecture and parameter count (289,630), written as a textbook
would. Their ratio is this package's speed-up.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import optax
from jax import lax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # run as a script from anywhere

# The package needs ROOT on the path.
from convnets import models  # noqa: E402
from convnets.ops import conv2d, conv2d_max_pool, pool2d  # noqa: E402
from convnets.ops.conv import AUTO_FORWARD_IMPL, AUTO_IMPL, auto_impl  # noqa: E402
from convnets.ops.conv_pool import PHASES_BACKENDS, uses_phases  # noqa: E402
from convnets.ops.pool import _as_blocks  # noqa: E402
from convnets.runtime import use_fast_malloc  # noqa: E402
from convnets.train.state import count_params  # noqa: E402
from convnets.train.step import init_state, make_train_step  # noqa: E402

BATCH = 128
EVAL_BATCH = 1000  # the default config.eval_batch_size
CONV_IMPLS = ("xla", "im2col", "handgrad", "xla_handgrad")
# The distinct forward passes: handgrad and xla_handgrad run im2col's and XLA's.
FORWARD_IMPLS = ("xla", "im2col")
FORWARD_OF = {"handgrad": "im2col", "xla_handgrad": "xla"}
# name -> (batch, input (H, W, C), maps, kernel size, padding, gradients wanted for (x, w, b))
CONV_CASES = {
    "conv1": (BATCH, (28, 28, 1), 20, 5, "VALID", (False, True, True)),
    "conv2": (BATCH, (12, 12, 20), 40, 5, "VALID", (True, True, True)),
    "lenet5_c3": (BATCH, (14, 14, 6), 16, 5, "VALID", (True, True, True)),
    "resnet_s1": (BATCH, (28, 28, 16), 16, 3, "SAME", (True, True, True)),
    "resnet_s2": (BATCH, (14, 14, 32), 32, 3, "SAME", (True, True, True)),
    "small_3x3": (BATCH, (14, 14, 16), 16, 3, "SAME", (True, True, True)),
    "best_conv2": (BATCH, (14, 14, 32), 64, 5, "SAME", (True, True, True)),
    "tiny": (8, (10, 10, 2), 4, 5, "VALID", (True, True, True)),
}
# The layers whose fastest implementation ``impl="auto"`` is checked against.
AUTO_LAYERS = ("conv1", "conv2", "lenet5_c3", "resnet_s1", "resnet_s2", "small_3x3",
               "best_conv2")
POOL_INPUT = (BATCH, 24, 24, 20)
# The layers timed as a convolution and its 2x2 max-pool in one op, by
# phases and as separate passes (``convnets.ops.conv2d_max_pool``).
CONV_POOL_LAYERS = ("conv1", "lenet5_c3", "conv2", "best_conv2")


def auto_for(layer: str, backend: str | None = None, forward_only: bool = False) -> str:
  """What ``impl="auto"`` picks for ``CONV_CASES[layer]``, differentiated or
  (``forward_only``) not."""
  _, (_, _, in_maps), _, size, _, _ = CONV_CASES[layer]
  return auto_impl(in_maps, (size, size), backend, forward_only=forward_only)


def median_ms(fn: Callable[..., Any], args: Sequence[Any], reps: int, warmup: int) -> float:
  """Median wall time of ``fn(*args)`` in milliseconds, after ``warmup`` calls."""
  for _ in range(warmup):
    jax.block_until_ready(fn(*args))
  times = []
  for _ in range(reps):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return 1e3 * statistics.median(times)


def forward_backward(layer: Callable[..., Any], argnums: tuple[int, ...]) -> Callable[..., Any]:
  """Jitted ``(args..., cotangent) -> (loss, grads)`` with ``loss = <layer(args), cotangent>``,
  so the backward pass is the layer's VJP at a dense cotangent."""

  def loss(*args):
    *inputs, cotangent = args
    return (layer(*inputs) * cotangent).sum()

  return jax.jit(jax.value_and_grad(loss, argnums=argnums))


def conv_rows(reps: int, warmup: int) -> list[dict[str, Any]]:
  rows = []
  for case, (batch, (h, w, c), maps, size, padding, wanted) in CONV_CASES.items():
    keys = jax.random.split(jax.random.key(0), 4)
    x = jax.random.normal(keys[0], (batch, h, w, c))
    kernel = jax.random.normal(keys[1], (size, size, c, maps)) * 0.1
    bias = jax.random.normal(keys[2], (maps,))
    out_shape = jax.eval_shape(lambda x, k: conv2d(x, k, padding=padding), x, kernel).shape
    cotangent = jax.random.normal(keys[3], out_shape)
    argnums = tuple(i for i, want in enumerate(wanted) if want)
    for impl in CONV_IMPLS + (("naive",) if case == "tiny" else ()):
      step = forward_backward(
          lambda x, k, b, impl=impl: conv2d(x, k, b, padding=padding, impl=impl), argnums)
      ms = median_ms(step, (x, kernel, bias, cotangent), reps, warmup)
      rows.append({"benchmark": f"{case} conv fwd+bwd", "layer": case, "impl": impl,
                   "shape": f"{batch}x{h}x{w}x{c} -> {maps} maps {size}x{size} {padding}",
                   "batch": batch, "ms": ms})
    if case not in AUTO_LAYERS:
      continue
    x = jax.random.normal(keys[0], (EVAL_BATCH, h, w, c))
    for impl in FORWARD_IMPLS:
      forward = jax.jit(lambda x, k, b, impl=impl: conv2d(x, k, b, padding=padding, impl=impl))
      ms = median_ms(forward, (x, kernel, bias), reps, warmup)
      rows.append({"benchmark": f"{case} conv fwd", "layer": case, "impl": impl,
                   "forward_only": True, "batch": EVAL_BATCH, "ms": ms,
                   "shape": f"{EVAL_BATCH}x{h}x{w}x{c} -> {maps} maps {size}x{size} {padding}"})
  return rows


def conv_pool_rows(reps: int, warmup: int) -> list[dict[str, Any]]:
  """Each of ``CONV_POOL_LAYERS`` and its 2x2 max-pool, differentiated as in
  training: by phases, and as ``impl="auto"``'s convolution then the pool."""
  rows = []
  for case in CONV_POOL_LAYERS:
    batch, (h, w, c), maps, size, padding, wanted = CONV_CASES[case]
    keys = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(keys[0], (batch, h, w, c))
    kernel = jax.random.normal(keys[1], (size, size, c, maps)) * 0.1
    argnums = (0, 1) if wanted[0] else (1,)
    for impl, phases in (("separate", False), ("phases", True)):
      layer = lambda x, k, phases=phases: conv2d_max_pool(x, k, pool=2, padding=padding,
                                                          phases=phases)
      cotangent = jax.random.normal(keys[2], jax.eval_shape(layer, x, kernel).shape)
      ms = median_ms(forward_backward(layer, argnums), (x, kernel, cotangent), reps, warmup)
      rows.append({"benchmark": f"{case} conv + max 2x2 fwd+bwd", "conv_pool_layer": case,
                   "impl": impl, "batch": batch, "ms": ms,
                   "shape": f"{batch}x{h}x{w}x{c} -> {maps} maps {size}x{size} {padding}, pooled"})
  return rows


def phase_choices(rows: list[dict[str, Any]], backend: str) -> tuple[dict[str, str], bool]:
  """Per layer of ``CONV_POOL_LAYERS``: the faster of the two ways, and
  whether ``uses_phases`` picks one within 5% of it."""
  ms = {(r["conv_pool_layer"], r["impl"]): r["ms"] for r in rows if "conv_pool_layer" in r}
  fastest, agrees = {}, True
  chosen = "phases" if uses_phases(backend) else "separate"
  for case in CONV_POOL_LAYERS:
    fastest[case] = min(("separate", "phases"), key=lambda impl: ms[case, impl])
    agrees &= ms[case, chosen] <= 1.05 * ms[case, fastest[case]]
  return fastest, agrees


def pool_rows(reps: int, warmup: int) -> list[dict[str, Any]]:
  def reduce_window_max(window, stride):
    return lambda x: lax.reduce_window(x, -float("inf"), lax.max, (1, window, window, 1),
                                       (1, stride, stride, 1), "VALID")

  variants = [
      ("max 2x2", "pool2d (blocks, custom VJP)", lambda x: pool2d(x, kind="max", window=2)),
      ("max 2x2", "flax.linen.max_pool", lambda x: nn.max_pool(x, (2, 2), strides=(2, 2))),
      ("max 2x2", "lax.reduce_window", reduce_window_max(2, 2)),
      ("max 3x3 /2", "pool2d (patches)", lambda x: pool2d(x, kind="max", window=3, stride=2)),
      ("max 3x3 /2", "lax.reduce_window", reduce_window_max(3, 2)),
      ("avg 2x2", "pool2d", lambda x: pool2d(x, kind="avg", window=2)),
      ("sum 2x2", "pool2d", lambda x: pool2d(x, kind="sum", window=2)),
      ("lp 2x2 (p=2)", "pool2d", lambda x: pool2d(x, kind="lp", window=2, p=2.0)),
  ]
  x = jax.random.normal(jax.random.key(1), POOL_INPUT)
  rows = []
  for benchmark, impl, layer in variants:
    cotangent = jax.random.normal(jax.random.key(2), jax.eval_shape(layer, x).shape)
    ms = median_ms(forward_backward(layer, (0,)), (x, cotangent), reps, warmup)
    rows.append({"benchmark": f"{benchmark} pool fwd+bwd", "impl": impl,
                 "shape": "x".join(map(str, POOL_INPUT)), "batch": BATCH, "ms": ms})
  x = jax.random.normal(jax.random.key(1), (EVAL_BATCH, *POOL_INPUT[1:]))
  for impl, layer in [("pool2d (blocks)", lambda x: pool2d(x, kind="max", window=2)),
                      ("blocks reshape, max", lambda x: _as_blocks(x, (2, 2)).max(axis=(2, 4))),
                      ("lax.reduce_window", reduce_window_max(2, 2))]:
    ms = median_ms(jax.jit(layer), (x,), reps, warmup)
    rows.append({"benchmark": "max 2x2 pool fwd", "impl": impl, "forward_only": True,
                 "shape": "x".join(map(str, (EVAL_BATCH, *POOL_INPUT[1:]))), "batch": EVAL_BATCH,
                 "ms": ms})
  return rows


def evaluation_rows(reps: int, warmup: int) -> list[dict[str, Any]]:
  keys = jax.random.split(jax.random.key(5), 4)
  x = jax.random.uniform(keys[0], (EVAL_BATCH, 28, 28, 1))
  kernel = jax.random.normal(keys[1], (5, 5, 1, 20))
  hidden, output = jax.random.normal(keys[2], (2880, 100)), jax.random.normal(keys[3], (100, 10))
  pools = {"pool2d": lambda h: pool2d(h, kind="max", window=2),
           "blocks reshape, max": lambda h: _as_blocks(h, (2, 2)).max(axis=(2, 4))}
  rows = []
  for impl in ("im2col", "xla"):
    for pool_name, pool in pools.items():
      def predict(x, impl=impl, pool=pool):
        h = pool(jax.nn.relu(conv2d(x, kernel, impl=impl)))
        return (jax.nn.relu(h.reshape(h.shape[0], -1) @ hidden) @ output).argmax(-1)
      rows.append({"benchmark": "convnet evaluation pass", "impl": f"conv {impl}, {pool_name}",
                   "forward_only": True, "shape": f"{EVAL_BATCH}x28x28x1", "batch": EVAL_BATCH,
                   "ms": median_ms(jax.jit(predict), (x,), reps, warmup)})
  return rows


class TextbookConvNet(nn.Module):
  """The simple ConvNet from Flax's stock layers (the comparison baseline):
  ``(N, 28, 28, 1) -> (N, 10)`` logits."""

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    x = nn.max_pool(nn.relu(nn.Conv(20, (5, 5), padding="VALID")(x)), (2, 2), strides=(2, 2))
    x = nn.relu(nn.Dense(100)(x.reshape(x.shape[0], -1)))
    return nn.Dense(10)(x)


def train_step_rows(reps: int, warmup: int) -> list[dict[str, Any]]:
  keys = jax.random.split(jax.random.key(3), 2)
  batch = {"images": jax.random.uniform(keys[0], (BATCH, 28, 28, 1)),
           "labels": jax.random.randint(keys[1], (BATCH,), 0, 10)}
  rows = []
  auto = f"{auto_for('conv1')}, {auto_for('conv2')}" + (
      "; with their max-pools by phases" if uses_phases() else "")
  for impl, model in [(f"convnets ops (auto = {auto})", models.create("convnet")),
                      ("flax.linen Conv + max_pool + Dense", TextbookConvNet())]:
    tx = optax.adam(1e-3)
    state = init_state(model, tx, jax.random.key(4), (28, 28, 1))
    if count_params(state.params) != 289_630:
      raise AssertionError(f"{impl}: {count_params(state.params):,} parameters, not 289,630")
    step = jax.jit(make_train_step(model, tx))
    ms = median_ms(lambda state: step(state, batch)[0], (state,), reps, warmup)
    rows.append({"benchmark": "convnet train step", "impl": impl,
                 "shape": f"{BATCH}x28x28x1, Adam", "batch": BATCH, "ms": ms})
  return rows


def choices(rows: list[dict[str, Any]], backend: str, *, forward_only: bool
            ) -> tuple[dict[str, str], dict[str, str], bool]:
  """Per layer of ``AUTO_LAYERS`` in ``rows``: the fastest convolution,
  ``auto``'s choice, and whether every choice is within 5% of the fastest
  (a tie: timings on a shared CPU wobble that much)."""
  impls = FORWARD_IMPLS if forward_only else CONV_IMPLS
  ms = {(r["layer"], r["impl"]): r["ms"] for r in rows
        if r.get("layer") in AUTO_LAYERS and r["impl"] in impls}
  fastest = {layer: min(impls, key=lambda impl: ms[layer, impl]) for layer in AUTO_LAYERS}
  chosen = {layer: auto_for(layer, backend, forward_only) for layer in AUTO_LAYERS}
  if forward_only:
    chosen = {layer: FORWARD_OF.get(impl, impl) for layer, impl in chosen.items()}
  agrees = all(ms[layer, impl] <= 1.05 * ms[layer, fastest[layer]]
               for layer, impl in chosen.items())
  return fastest, chosen, agrees


def markdown(rows: list[dict[str, Any]]) -> str:
  lines = ["| benchmark | impl | shape | ms | examples/s |", "|---|---|---|---:|---:|"]
  lines += [f"| {r['benchmark']} | {r['impl']} | {r['shape']} | {r['ms']:.3f} | "
            f"{r['examples_per_s']:,.0f} |" for r in rows]
  return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="3 repetitions, 1 warm-up call")
  parser.add_argument("--reps", type=int, default=30, help="timed calls per benchmark")
  parser.add_argument("--warmup", type=int, default=3, help="untimed calls first")
  parser.add_argument("--out", default=os.path.join(ROOT, "results", "benchmarks"),
                      help="folder for conv_pool_<backend>.{json,md}")
  args = parser.parse_args(argv)
  reps, warmup = (3, 1) if args.quick else (args.reps, args.warmup)
  backend = jax.default_backend()
  rows = (conv_rows(reps, warmup) + conv_pool_rows(reps, warmup) + pool_rows(reps, warmup)
          + evaluation_rows(reps, warmup) + train_step_rows(reps, warmup))
  for row in rows:
    row["examples_per_s"] = row["batch"] / (row["ms"] / 1e3)

  # auto should be the fastest implementation over the models' two layers.
  trained = [r for r in rows if not r.get("forward_only")]
  layer_ms = {impl: sum(r["ms"] for r in trained
                        if r["impl"] == impl and r.get("layer") in ("conv1", "conv2"))
              for impl in CONV_IMPLS}
  fastest = min(layer_ms, key=layer_ms.get)
  per_layer, chosen, agrees = choices(trained, backend, forward_only=False)
  per_layer_forward, chosen_forward, agrees_forward = choices(
      [r for r in rows if r.get("forward_only")], backend, forward_only=True)
  by_phases, agrees_phases = phase_choices(rows, backend)
  ours, textbook = (r["examples_per_s"] for r in rows if r["benchmark"] == "convnet train step")
  summary = [
      f"conv1 + conv2 fwd+bwd on {backend}: "
      + ", ".join(f"{impl} {ms:.3f} ms" for impl, ms in layer_ms.items()),
      "fastest per layer (input maps): " + ", ".join(
          f"{layer} ({CONV_CASES[layer][1][2]}) {impl}" for layer, impl in per_layer.items())
      + f"; over conv1 + conv2: {fastest}; auto picks " + ", ".join(
          f"{layer} {impl}" for layer, impl in chosen.items())
      + (" (agrees, within 5%)" if agrees else
         f" (disagrees: update AUTO_IMPL[{backend!r}] in convnets/ops/conv.py)"),
      f"forward alone, batch {EVAL_BATCH}, fastest per layer: " + ", ".join(
          f"{layer} {impl}" for layer, impl in per_layer_forward.items())
      + "; auto picks " + ", ".join(f"{layer} {impl}" for layer, impl in chosen_forward.items())
      + (" (agrees, within 5%)" if agrees_forward else
         f" (disagrees: update AUTO_FORWARD_IMPL[{backend!r}] in convnets/ops/conv.py)"),
      "conv + 2x2 max-pool, faster per layer: " + ", ".join(
          f"{layer} {impl}" for layer, impl in by_phases.items())
      + (" (uses_phases agrees, within 5%)" if agrees_phases else
         f" (disagrees: update PHASES_BACKENDS in convnets/ops/conv_pool.py)"),
      f"training step: {ours:,.0f} examples/s with convnets ops, {textbook:,.0f} with "
      f"flax.linen layers: {ours / textbook:.2f}x",
  ]
  device = jax.devices()[0]
  header = (f"# conv_pool benchmark: {backend} ({device.device_kind}), jax {jax.__version__}, "
            f"median of {reps} after {warmup} warm-up{' (--quick)' if args.quick else ''}, "
            f"{datetime.datetime.now().isoformat(timespec='seconds')}")
  report = "\n\n".join([header, markdown(rows), "\n".join(f"- {line}" for line in summary)])
  print(report)

  os.makedirs(args.out, exist_ok=True)
  stem = os.path.join(args.out, f"conv_pool_{backend}")
  with open(stem + ".md", "w") as f:
    f.write(report + "\n")
  with open(stem + ".json", "w") as f:
    json.dump({"backend": backend, "device": device.device_kind, "jax": jax.__version__,
               "reps": reps, "warmup": warmup, "quick": args.quick, "rows": rows,
               "conv_layers_ms": layer_ms, "fastest_conv_impl": fastest,
               "fastest_conv_impl_per_layer": per_layer,
               "auto_impl": chosen, "auto_table": AUTO_IMPL,
               "fastest_forward_impl_per_layer": per_layer_forward,
               "auto_forward_impl": chosen_forward, "auto_forward_table": AUTO_FORWARD_IMPL,
               "conv_pool_faster": by_phases, "phases_backends": list(PHASES_BACKENDS),
               "train_step_speedup": ours / textbook}, f, indent=2)
  print(f"\nwrote {stem}.md and {stem}.json")


if __name__ == "__main__":
  use_fast_malloc()
  main()
