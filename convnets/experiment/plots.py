"""An experiment's figures as PNG (matplotlib Agg): learning curves, test
errors, trends and kernel images.

Every function takes the variant records of ``results.json`` (each with
``label``, ``runs`` and the aggregated ``test_error``), so figures can be
redrawn from a finished experiment's results without retraining.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

Record = Mapping[str, Any]
DPI = 110
# Plain numbers on log axes ("2", "0.05", "300k"), not "2 x 10^0".
COMPACT = FuncFormatter(lambda value, _: f"{value / 1e6:g}M" if value >= 1e6 else
                        f"{value / 1e3:g}k" if value >= 1e3 else f"{value:g}")


def _log_ticks(axis: Any, subs: Sequence[float]) -> None:
  """Label a log axis at ``subs`` times powers of ten, in plain numbers."""
  axis.set_major_locator(LogLocator(subs=subs))
  axis.set_major_formatter(COMPACT)
  axis.set_minor_formatter(NullFormatter())


def _colour(i: int) -> Any:
  return plt.get_cmap("tab10")(i % 10)


def _save(fig: Any, path: str) -> None:
  fig.tight_layout()
  fig.savefig(path, dpi=DPI)
  plt.close(fig)


def _drawn(variants: Sequence[Record]) -> list[Record]:
  """The variants as drawn: a diverged run (no test error, a non-finite loss)
  has nothing to draw and is left out, as it is of the means; a variant with
  no other run is left out whole."""
  drawn = []
  for variant in variants:
    runs = [run for run in variant["runs"] if run.get("test_error") is not None]
    if runs:
      drawn.append({**variant, "runs": runs})
  return drawn


def _band(ax: Any, x: np.ndarray, runs: np.ndarray, colour: Any, label: str,
          alpha: float) -> None:
  """Mean over seeds (rows of ``runs``, ``(seeds, epochs)``) as a line, and
  mean +- one std as a shaded band when there are several seeds."""
  mean = runs.mean(axis=0)
  ax.plot(x, mean, "-", color=colour, label=label, lw=1.6)
  if len(runs) > 1:
    std = runs.std(axis=0, ddof=1)
    ax.fill_between(x, np.maximum(mean - std, 1e-9), mean + std, color=colour, alpha=alpha,
                    lw=0)


def _y_scale(ax: Any, curves: Sequence[np.ndarray]) -> None:
  """A log axis for values spanning more than 4x (falling curves), else linear,
  where a log axis would show hardly a labelled tick."""
  if not curves:
    return
  values = np.concatenate([c.ravel() for c in curves])
  if values.min() > 0 and values.max() / values.min() > 4:
    ax.set_yscale("log")
    _log_ticks(ax.yaxis, (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0))


def learning_curves(variants: Sequence[Record], path: str, title: str) -> None:
  """Validation error (%) and training loss against epoch, one line per
  variant (mean over seeds, band: +- one std)."""
  variants = _drawn(variants)
  fig, (ax_err, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.5))
  alpha = 0.25 if len(variants) <= 3 else 0.1  # many overlapping bands turn to mud
  errors, losses = [], []
  for i, variant in enumerate(variants):
    # Runs that stopped early are cut to the shortest.
    epochs = min(len(run["curves"]) for run in variant["runs"])
    x = np.arange(1, epochs + 1)
    curves = [run["curves"][:epochs] for run in variant["runs"]]
    errors.append(np.array([[100 * (1 - c["valid_accuracy"]) for c in run] for run in curves]))
    losses.append(np.array([[c["train_loss"] for c in run] for run in curves]))
    _band(ax_err, x, errors[-1], _colour(i), variant["label"], alpha)
    _band(ax_loss, x, losses[-1], _colour(i), variant["label"], alpha)
  ax_err.set(xlabel="epoch", ylabel="validation error (%)",
             title="validation error (mean over seeds, band: ±1 std)")
  ax_loss.set(xlabel="epoch", ylabel="training cross-entropy",
              title="training loss (mean over seeds, band: ±1 std)")
  for ax, curves in ((ax_err, errors), (ax_loss, losses)):
    _y_scale(ax, curves)
    ax.grid(True, which="both", alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
  ax_err.legend(fontsize=8)
  fig.suptitle(title)
  _save(fig, path)


def test_errors(variants: Sequence[Record], path: str, title: str,
                reference: str | None = None) -> None:
  """Test error (%) per variant: mean with +- one std error bars, each seed
  as a small circle below; a dashed line marks the reference variant's mean."""
  variants = _drawn(variants)
  fig, ax = plt.subplots(figsize=(8, 0.55 * len(variants) + 1.6))
  y = np.arange(len(variants))[::-1]
  for i, (variant, yi) in enumerate(zip(variants, y)):
    stats = variant["test_error"]
    std = stats["std"] or 0.0
    ax.errorbar(100 * stats["mean"], yi, xerr=100 * std, fmt="o", color=_colour(i),
                capsize=5, ms=7, lw=2)
    seeds = [100 * run["test_error"] for run in variant["runs"]]
    ax.plot(seeds, [yi - 0.22] * len(seeds), "o", color=_colour(i), ms=4, mfc="none")
    if variant["name"] == reference:
      ax.axvline(100 * stats["mean"], ls="--", color="grey", lw=1,
                 label=f"reference: {variant['label']}")
  ax.set_yticks(y, [v["label"] for v in variants])
  ax.set(xlabel="test error (%): mean ± 1 std over seeds; circles below: single seeds",
         title=title)
  ax.grid(True, axis="x", alpha=0.3)
  if reference is not None:
    ax.legend(fontsize=8, loc="best")
  _save(fig, path)


def trend(variants: Sequence[Record], x: str, x_label: str, log_x: bool, path: str,
          title: str) -> None:
  """Test error (%) against each variant's ``x[x]`` (a trend coordinate or a
  measured quantity), one line per family, each point its mean +- one std
  over seeds and labelled with the variant."""
  def x_of(variant: Record) -> float:
    return variant["x"][x]

  variants = _drawn(variants)
  fig, ax = plt.subplots(figsize=(7.5, 4.8))
  families = list(dict.fromkeys(v["family"] for v in variants))
  for i, family in enumerate(families):
    members = sorted((v for v in variants if v["family"] == family), key=x_of)
    xs = [x_of(v) for v in members]
    mean = [100 * v["test_error"]["mean"] for v in members]
    std = [100 * (v["test_error"]["std"] or 0.0) for v in members]
    ax.errorbar(xs, mean, yerr=std, fmt="o-", color=_colour(i), capsize=4, label=family or None)
    for j, (xi, yi, v) in enumerate(zip(xs, mean, members)):
      # Alternately above and below, so that neighbouring labels do not overlap.
      ax.annotate(v["label"], (xi, yi), textcoords="offset points",
                  xytext=(6, 6 if j % 2 == 0 else -12), fontsize=7)
  if log_x:
    ax.set_xscale("log")
    _log_ticks(ax.xaxis, (1.0, 2.0, 5.0))
  elif all(float(x_of(v)).is_integer() for v in variants):
    ax.xaxis.get_major_locator().set_params(integer=True)
  ax.margins(x=0.12, y=0.1)  # room for the labels of the outermost points
  ax.set(xlabel=x_label + (" (log scale)" if log_x else ""),
         ylabel="test error (%), mean ± 1 std", title=title)
  ax.grid(True, which="both", alpha=0.3)
  if any(families):
    ax.legend()
  _save(fig, path)


def kernels(sets: Sequence[tuple[str, np.ndarray]], path: str, title: str) -> None:
  """Kernels as images, one panel of small images per set, side by side.

  Args:
    sets: ``(caption, kernels)`` pairs; ``kernels`` is ``(kh, kw, n)`` (a
      first layer's HWIO kernel with its single input map dropped).
  Each set shares one symmetric colour scale (blue negative, red positive),
  so kernels within a set compare directly.
  """
  n = max(k.shape[-1] for _, k in sets)
  cols = math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  fig = plt.figure(figsize=(3.6 * len(sets), 3.6 * rows / cols + 0.9))
  panels = fig.subfigures(1, len(sets), squeeze=False)[0]
  for panel, (caption, k) in zip(panels, sets):
    scale = float(np.abs(k).max()) or 1.0
    axes = panel.subplots(rows, cols, squeeze=False)
    for j, ax in enumerate(axes.flat):
      ax.set_axis_off()
      if j < k.shape[-1]:
        ax.imshow(k[:, :, j], cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
    panel.suptitle(caption, fontsize=10)
  fig.suptitle(title, y=1.08)
  fig.savefig(path, dpi=DPI, bbox_inches="tight")
  plt.close(fig)
