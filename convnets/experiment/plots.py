"""An experiment's figures as PNG, in the project's style (:mod:`convnets.style`):
learning curves, test errors and trends.

Every function takes the variant records of ``results.json`` (each with
``label``, ``family``, ``runs`` and the aggregated ``test_error``), so the
figures are a function of a finished experiment's results alone and
:func:`standard` redraws them without retraining (``python -m
experiments.publish``). An axes holds at most :data:`convnets.style.MAX_SERIES`
series: more variants are split into facets, one family's variants together.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np

from convnets import style
from convnets.experiment import reasked
from convnets.experiment.spec import Figure

Record = Mapping[str, Any]

CURVES = Figure("curves.png", "Validation error and training loss against epoch: mean over "
                "seeds, band ±1 std.")
TEST_ERROR = Figure("test_error.png", "Test error per variant: mean ± 1 std over seeds; "
                    "circles are single seeds.")


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


def groups(variants: Sequence[Record]) -> list[tuple[str, list[Record]]]:
  """The variants split into facets of at most ``MAX_SERIES``, each within
  one family (in order of first appearance), captioned with the family and,
  where a family needs several facets, its part."""
  families = list(dict.fromkeys(v.get("family") or "" for v in variants))
  if len(variants) <= style.MAX_SERIES:
    return [("", list(variants))]
  out = []
  for family in families:
    parts = style.facets([v for v in variants if (v.get("family") or "") == family])
    for i, part in enumerate(parts):
      suffix = f" ({i + 1} of {len(parts)})" if len(parts) > 1 else ""
      out.append((f"{family}{suffix}" or f"variants{suffix}", part))
  return out


def _band(ax: Any, x: np.ndarray, runs: np.ndarray, colour: str, label: str,
          alpha: float) -> None:
  """Mean over seeds (rows of ``runs``, ``(seeds, epochs)``) as a line, and
  mean +- one std as a shaded band (clipped above 0) when there are several seeds."""
  mean = runs.mean(axis=0)
  ax.plot(x, mean, "-", color=colour, label=label)
  if len(runs) > 1:
    std = runs.std(axis=0, ddof=1)
    ax.fill_between(x, np.maximum(mean - std, 1e-9), mean + std, color=colour, alpha=alpha,
                    lw=0)


def _subs(values: np.ndarray) -> tuple[float, ...]:
  """Log-axis tick multiples that stay legible for the decades ``values`` span."""
  decades = np.log10(values.max() / values.min())
  return (1.0,) if decades > 2.5 else (1.0, 2.0, 5.0) if decades > 1.2 else (
      1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0)


def _y_scale(ax: Any, curves: Sequence[np.ndarray], label: str) -> None:
  """A log axis for values (every seed's, ``(seeds, epochs)`` each) spanning
  more than 4x (falling curves), else linear, where a log axis would show
  hardly a labelled tick."""
  values = np.concatenate([c.ravel() for c in curves]) if curves else np.ones(1)
  if values.min() > 0 and values.max() / values.min() > 4:
    style.log_axis(ax, which="y", label=label, subs=_subs(values))
    # The single runs bound the axis: a band of mean - std near 0 would
    # otherwise stretch it over decades where no run ever was.
    ax.set_ylim(values.min() / 1.3, values.max() * 1.3)
  else:
    ax.set_ylabel(label)


def _variant_curves(variant: Record) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Epochs ``(E,)``, validation error (%) and training loss ``(seeds, E)``;
  runs that stopped early are cut to the shortest."""
  epochs = min(len(run["curves"]) for run in variant["runs"])
  curves = [run["curves"][:epochs] for run in variant["runs"]]
  errors = np.array([[100 * (1 - c["valid_accuracy"]) for c in run] for run in curves])
  losses = np.array([[c["train_loss"] for c in run] for run in curves])
  return np.arange(1, epochs + 1), errors, losses


def learning_curves(variants: Sequence[Record], path: str, title: str) -> None:
  """Validation error (%) and training loss against epoch, one line per
  variant (mean over seeds, band: +- one std); one row of two axes per facet
  (:func:`groups`), the rows on shared scales, each with its legend beside it."""
  facets = groups(_drawn(variants))
  fig, axes = style.figure(rows=len(facets), cols=2, width=11.5, height=3.4 * len(facets) + 0.6,
                           sharex=True, sharey="col")
  everything: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
  for (caption, members), (ax_err, ax_loss) in zip(facets, axes):
    alpha = 0.25 if len(members) <= 3 else 0.12  # many overlapping bands turn to mud
    for i, variant in enumerate(members):
      x, errors, losses = _variant_curves(variant)
      everything[0].append(errors)
      everything[1].append(losses)
      _band(ax_err, x, errors, style.colour(i), variant["label"], alpha)
      _band(ax_loss, x, losses, style.colour(i), variant["label"], alpha)
    prefix = f"{caption}: " if caption else ""
    ax_err.set_title(f"{prefix}validation error")
    ax_loss.set_title(f"{prefix}training loss")
    style.legend_outside(ax_loss)
  for column, (label, curves) in enumerate(zip(
      ("validation error (%)", "training loss (nats)"), everything)):
    for ax in axes[:, column]:
      _y_scale(ax, curves, label)
  for ax in axes[-1]:
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
  seeds = any(len(variant["runs"]) > 1 for _, members in facets for variant in members)
  fig.suptitle(f"{title}\nmean over seeds, band: ±1 std" if seeds else title)
  style.save(fig, path)


def _family_colours(variants: Sequence[Record]) -> dict[str, str]:
  families = list(dict.fromkeys(v.get("family") or "" for v in variants))
  return {family: style.colour(i) for i, family in enumerate(families)}


def test_errors(variants: Sequence[Record], path: str, title: str,
                reference: str | None = None) -> None:
  """Test error (%) per variant, one row each: mean with +- one std error
  bars (clipped at 0), each seed as a small circle below; colour by family
  (legend beside the axes); a dashed line marks the reference variant's mean.
  A log error axis where the seeds' errors span more than 20x."""
  variants = _drawn(variants)
  colours = _family_colours(variants)
  fig, axes = style.figure(width=8.5, height=0.42 * len(variants) + 1.6)
  ax = axes[0, 0]
  y = np.arange(len(variants))[::-1]
  for variant, yi in zip(variants, y):
    stats = variant["test_error"]
    mean, std = 100 * stats["mean"], 100 * (stats["std"] or 0.0)
    family = variant.get("family") or ""
    ax.errorbar(mean, yi, xerr=style.clipped_error([mean], [std]), fmt="o",
                color=colours[family], capsize=4, ms=6, lw=1.8,
                label=family if family and len(colours) > 1 else None)
    seeds = [100 * run["test_error"] for run in variant["runs"]]
    ax.plot(seeds, [yi - 0.25] * len(seeds), "o", color=colours[family], ms=3.5, mfc="none")
    if variant["name"] == reference:
      ax.axvline(mean, ls="--", color="grey", lw=1, label=f"reference: {variant['label']}")
  ax.set_yticks(y, [v["label"] for v in variants])
  ax.grid(False, axis="y")
  ax.set_title(title)
  label = "test error (%): mean ± 1 std over seeds; circles below: single seeds"
  seeds = np.array([run["test_error"] for v in variants for run in v["runs"]])
  if seeds.min() > 0 and seeds.max() / seeds.min() > 20:  # diverged runs beside good ones
    style.log_axis(ax, which="x", label=label, subs=_subs(100 * seeds))
  else:
    ax.set_xlim(left=0)
    ax.set_xlabel(label)
  handles, labels = ax.get_legend_handles_labels()
  unique = dict(zip(labels, handles))
  if unique:
    ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.02, 1.0))
  style.save(fig, path)


def trend(variants: Sequence[Record], x: str, x_label: str, log_x: bool, path: str,
          title: str) -> None:
  """Test error (%) against each variant's ``x[x]`` (a trend coordinate or a
  measured quantity), one line per family (at most ``MAX_SERIES`` per axes,
  facets otherwise), each point its mean +- one std over seeds (clipped at 0);
  a log error axis where the errors span more than 4x."""
  def x_of(variant: Record) -> float:
    return variant["x"][x]

  variants = _drawn(variants)
  families = list(dict.fromkeys(v.get("family") or "" for v in variants))
  parts = style.facets(families)
  fig, axes = style.figure(cols=len(parts), width=5.2 * len(parts) + 2.6, height=4.4,
                           sharey=True)
  means = np.array([100 * v["test_error"]["mean"] for v in variants])
  for ax, part in zip(axes[0], parts):
    for i, family in enumerate(part):
      members = sorted((v for v in variants if (v.get("family") or "") == family), key=x_of)
      mean = [100 * v["test_error"]["mean"] for v in members]
      std = [100 * (v["test_error"]["std"] or 0.0) for v in members]
      ax.errorbar([x_of(v) for v in members], mean, yerr=style.clipped_error(mean, std),
                  fmt=style.marker(i) + "-", color=style.colour(i), capsize=4,
                  label=family or None)
    if log_x:
      style.log_axis(ax, which="x", label=x_label)
    else:
      ax.set_xlabel(x_label)
      if all(float(x_of(v)).is_integer() for v in variants):
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.margins(x=0.08)
    style.legend_outside(ax, title="family" if any(part) else None)
  error_label = "test error (%), mean ± 1 std"
  if means.min() > 0 and means.max() / means.min() > 4:
    style.log_axis(axes[0, 0], which="y", label=error_label, subs=_subs(means))
  else:
    axes[0, 0].set_ylabel(error_label)
    axes[0, 0].set_ylim(bottom=0)
  fig.suptitle(title)
  style.save(fig, path)


def standard(results: Mapping[str, Any], workdir: str) -> list[Figure]:
  """Draw every experiment's figures from ``results`` (a ``results.json``)
  into ``workdir``: learning curves, test errors and one figure per declared
  trend (``results["trends"]``: ``x``, ``label``, ``log_x``)."""
  variants = results["variants"]
  title = results["title"] + reasked.naming(results, ", on ")
  # Classical methods (convnets.classical) fit without epochs: no curves to draw.
  learning_curves([v for v in variants if all(run["curves"] for run in v["runs"])],
                  os.path.join(workdir, CURVES.file), title)
  test_errors(variants, os.path.join(workdir, TEST_ERROR.file), title, results["reference"])
  figures = [CURVES, TEST_ERROR]
  for spec in results["trends"]:
    figure = Figure(f"test_error_vs_{spec['x']}.png", f"Test error against {spec['label']}: "
                    "mean ± 1 std over seeds.")
    trend(variants, spec["x"], spec["label"], spec["log_x"], os.path.join(workdir, figure.file),
          title)
    figures.append(figure)
  return figures
