"""The README's generated blocks: the experiments' headline numbers, the
``best`` configuration's runs and the benchmarks, each rendered from the
result files alone (``results/**/*.json``), with links relative to the
README's folder.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping, Sequence

from convnets.experiment import best_runs, discussion, reasked, report
from convnets.experiment.formats import escape, number
from convnets.experiment.spec import Text
from convnets.experiment.values import Comparison, Finding, Grid

Results = Mapping[str, Any]


def first_sentence(text: str) -> str:
  """``text`` up to its first question mark or full stop that ends a sentence."""
  match = re.search(r"[?.](\s|$)", text)
  return " ".join((text[:match.end()] if match else text).split())


def minutes(results: Results) -> float:
  """What the experiment's runs took: their own seconds where some were read
  back by ``--resume`` (the last invocation's wall time says little), else
  the wall time."""
  seconds = results["run_seconds"] if results.get("runs_read_back") else results["wall_seconds"]
  return seconds / 60


def experiments_table(entries: Sequence[tuple[str, Results, Text, Sequence[Finding]]],
                      root: str) -> str:
  """One row per committed experiment run: its question, its headline
  numbers and the time its runs took.

  Args:
    entries: ``(folder, results, text, findings)`` per committed ``results.json``.
    root: the folder the links are relative to.
  """
  lines = ["| experiment | question | committed result | runs |", "| --- | --- | --- | --- |"]
  for folder, results, text, findings in entries:
    rel = os.path.relpath(os.path.join(folder, "results.md"), root)
    own = [f for f in findings if isinstance(f, Comparison)]
    runs = (f"{len(results['variants'])} x {len(results['settings']['seeds'])} seeds, "
            f"{report.epochs(results)}, {minutes(results):.0f} min on "
            f"{results['settings']['platform']}")
    on = reasked.naming(results, " on ")
    lines.append(f"| [`{results['experiment']}`]({rel}){on} | "
                 f"{escape(first_sentence(text.question))}"
                 f" | {escape(discussion.headline(results, own))} | {runs} |")
  return "\n".join(lines)


def best_table(runs: Sequence[best_runs.Run], target: float, root: str, folder: str) -> str:
  """The ``best`` configuration's runs, seed by seed and per platform, and
  where their report is."""
  rel = os.path.relpath(os.path.join(folder, "results.md"), root)
  seeds = Grid("seeds", "seeds", [f"{r['platform']} seed {r['summary']['seed']}" for r in runs],
               ["test error", "valid error", "training s"],
               [[r["summary"]["test_error"], r["summary"]["valid_error"],
                 r["summary"]["train_seconds"]] for r in runs],
               units={"training s": ""}, corner="run")
  means = best_runs.means_grid(runs, target)
  return (report.grid_markdown(seeds, titled=False) + "\n\n"
          + report.grid_markdown(means, titled=False)
          + f" Their report, with every run's times and curves: [{rel}]({rel}).")


def _layers(bench: Mapping[str, Any]) -> Grid:
  """Per benchmarked layer: the fastest convolution, ``auto``'s choice and
  im2col's time against XLA's, differentiated; then, where the benchmark
  timed it, the same for a forward pass alone."""
  layers = list(bench["fastest_conv_impl_per_layer"])
  passes = [(False, "fwd+bwd", "fastest_conv_impl_per_layer", "auto_impl")]
  if "fastest_forward_impl_per_layer" in bench:
    passes.append((True, "fwd", "fastest_forward_impl_per_layer", "auto_forward_impl"))
  columns, cells = [], [[] for _ in layers]
  for forward_only, name, fastest, auto in passes:
    ms = {(r["layer"], r["impl"]): r["ms"] for r in bench["rows"]
          if "layer" in r and bool(r.get("forward_only")) == forward_only}
    columns += [f"{name}: fastest", f"{name}: auto picks", f"{name}: im2col / xla time"]
    for row, layer in zip(cells, layers):
      row += [bench[fastest][layer], bench[auto].get(layer),
              ms[layer, "im2col"] / ms[layer, "xla"]]
  return Grid("layers", "layers", layers, columns, cells,
              units={c: "" for c in columns if c.endswith("time")}, corner="layer")


def conv_pool(bench: Mapping[str, Any], source: str) -> str:
  """``benchmarks/conv_pool.py``'s choice of convolution per layer, and the
  lecture ConvNet's training step against the same model in flax.linen."""
  ours, textbook = (r for r in bench["rows"] if r["benchmark"] == "convnet train step")
  return (report.grid_markdown(_layers(bench), titled=False) + "\n\n"
          f"A training step of the lecture ConvNet (batch 128, Adam): "
          f"{ours['examples_per_s']:,.0f} examples/s with this project's ops, "
          f"{textbook['examples_per_s']:,.0f} with `flax.linen.Conv` + `max_pool` + `Dense`: "
          f"{bench['train_step_speedup']:.2f}x ({bench['device']}, jax {bench['jax']}, median "
          f"of {bench['reps']}; [{source}]({source})).")


def throughput(bench: Mapping[str, Any], source: str, batch: int = 128) -> str:
  """``benchmarks/train_throughput.py``'s runs at batch ``batch``: speed and
  the time to the target accuracy from the command's start."""
  rows = [r for r in bench["rows"] if r["batch_size"] == batch]
  lines = ["| model | examples/s | s/epoch | compile s | target | time to target (s) | "
           "final test accuracy |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
  for r in rows:
    reached = r["time_to_accuracy_seconds"]
    lines.append(f"| {r['model']} | {r['examples_per_second']:,.0f} | "
                 f"{r['seconds_per_epoch']:.2f} | {r['compile_seconds']:.1f} | "
                 f"{100 * r['target_accuracy']:.0f}% | "
                 f"{'not reached' if reached is None else f'{reached:.0f}'} | "
                 f"{100 * r['final_test_accuracy']:.2f}% |")
  return "\n".join(lines) + (f"\n\nBatch {batch}, {rows[0]['epochs']} epochs, on "
                             f"{bench['machine']} ([{source}]({source}), other batch sizes "
                             "there).")


def train_loop(bench: Sequence[Mapping[str, Any]], source: str) -> str:
  """``benchmarks/train_loop.py``: examples/s per training loop and allocator."""
  rates = [r["examples_per_second"] for r in bench]
  lines = ["| loop | tcmalloc | examples/s |", "| --- | --- | ---: |"]
  lines += [f"| {r['loop']} | {'yes' if r['tcmalloc'] else 'no'} | "
            f"{r['examples_per_second']:,.0f} |" for r in bench]
  return "\n".join(lines) + (f"\n\nFastest over slowest: {max(rates) / min(rates):.2f}x "
                             f"([{source}]({source})).")


def main_job(bench: Mapping[str, Any], source: str) -> str:
  """The default run's time and accuracy, from the throughput benchmark's
  run of the default settings (batch 128)."""
  r = next(r for r in bench["rows"] if r["model"] == "convnet" and r["batch_size"] == 128)
  return (f"Measured with the default settings ({bench['machine']}): "
          f"{r['command_seconds'] / 60:.1f} minutes from the command's start to its end, "
          f"{100 * r['final_test_accuracy']:.2f}% test accuracy after {r['epochs']} epochs, "
          f"{r['target_accuracy']:.0%} first reached after {r['epochs_to_accuracy']} "
          f"([{source}]({source}), a run that also tested after every epoch).")


def pytorch_reference(bench: Mapping[str, Any], source: str) -> str:
  """``benchmarks/pytorch_reference.py``: examples/s of PyTorch's loops and
  ours, and our fastest loop's ratio to each."""
  loops = bench["loops"]
  ours = max(loops["ours"]["examples_per_second"], loops["ours_scan"]["examples_per_second"])
  lines = ["| loop | examples/s | our fastest over it |", "| --- | ---: | ---: |"]
  lines += [f"| {r['description']} | {r['examples_per_second']:,.0f} | "
            f"{ours / r['examples_per_second']:.2f}x |" for r in loops.values()]
  return "\n".join(lines) + (
      f"\n\nTraining examples/s, the median of epochs 2 to {bench['epochs']}, the best of "
      f"{bench['rounds']} interleaved rounds; {bench['machine']}, torch {bench['torch']} "
      f"({bench['threads']} threads), {bench['date']} ([{source}]({source})).")


def seed_grouping(bench: Mapping[str, Any], source: str) -> str:
  """``benchmarks/seed_grouping.py``: one variant's seeds trained one after
  another, in lockstep, or as parallel processes."""
  seconds = bench["seconds"]
  lines = ["| seeds trained | wall seconds | against the fastest |", "| --- | ---: | ---: |"]
  lines += [f"| {way} | {s:.1f} | {s / min(seconds.values()):.2f}x |"
            for way, s in seconds.items()]
  return "\n".join(lines) + (
      f"\n\n{bench['seeds']} seeds of the lecture ConvNet, {bench['epochs']} epochs on "
      f"{bench['train_subset']:,} digits each, every way from fresh processes and an empty "
      f"compilation cache; {bench['platform']}, {bench['cpu_count']} cores, jax {bench['jax']}, "
      f"{bench['date']} ([{source}]({source})).")


PHASES = ("import", "data", "compile", "train", "validate", "test", "outputs")
FAST_TARGET = (0.99, 15.0)  # the fast recipe's aim: this test accuracy, within these seconds


def fast_recipe(bench: Mapping[str, Any], source: str) -> str:
  """``benchmarks/fast_recipe.py``: each fast-recipe run's seconds from the
  command to its summary, its phases and its test accuracy; then the main
  job's time outside training."""
  accuracy, seconds = FAST_TARGET
  lines = ["| seed | compilation cache | to summary (s) | to exit (s) | test accuracy | "
           + " | ".join(PHASES) + " | load before |",
           "| ---: | --- | ---: | ---: | ---: | " + "---: | " * len(PHASES) + "---: |"]
  for r in bench["fast_recipe"]:
    phases = " | ".join(f"{r['phase_seconds'].get(p, 0):.2f}" for p in PHASES)
    lines.append(f"| {r['seed']} | {r['cache']} | {r['seconds_to_summary']:.1f} | "
                 f"{r['seconds_to_exit']:.1f} | {100 * r['test_accuracy']:.2f}% | {phases} | "
                 f"{r['load_average_before']:.1f} |")
  met = {state: all(r["test_accuracy"] >= accuracy and r["seconds_to_summary"] <= seconds
                    for r in bench["fast_recipe"] if r["cache"] == state)
         for state in ("cold", "warm")}
  verdict = "; ".join(f"{state} cache: {'every' if ok else 'not every'} seed reached "
                      f"{accuracy:.0%} within {seconds:.0f} s" for state, ok in met.items())
  text = "\n".join(lines) + (f"\n\n`{bench['config']}` on {bench['machine']}, jax "
                             f"{bench['jax']}, {bench['date']}: {verdict} "
                             f"([{source}]({source})).")
  job = bench.get("main_job")
  if job:
    phases = job["phase_seconds"]
    before_summary = job["seconds_to_summary"] - phases["train"]
    text += (f"\n\nThe main job (the default config, {job['epochs']} epochs, warm cache): "
             f"{job['seconds_to_summary']:.1f} s to its summary, {phases['train']:.1f} s of it "
             f"training and {before_summary:.1f} s not ("
             + ", ".join(f"{p} {phases[p]:.1f}" for p in PHASES if p != "train" and p in phases)
             + f"); then {job['seconds_to_exit'] - job['seconds_to_summary']:.1f} s of figures, "
             f"to its exit at {job['seconds_to_exit']:.1f} s; "
             f"{100 * job['test_accuracy']:.2f}% test accuracy.")
  return text


def gpu_runs(runs: Sequence[best_runs.Run], platform: str = "gpu") -> str:
  """The ``best`` configuration's speed on ``platform``: means over its runs."""
  summaries = [r["summary"] for r in runs if r["platform"] == platform]
  if not summaries:
    return ""
  mean = lambda key: sum(s[key] for s in summaries) / len(summaries)
  return (f"The `best` configuration on the {platform} trained at "
          f"{number(mean('examples_per_second'))} digits a second per run "
          f"({mean('seconds_per_epoch'):.2f} s an epoch, {mean('train_seconds'):.0f} s for "
          f"{summaries[0]['epochs']} epochs after {mean('compile_seconds'):.0f} s compiling; "
          f"means over its {len(summaries)} runs, "
          "which shared the device).")
