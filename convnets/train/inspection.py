"""Pictures of a finished run, written into its workdir (MLP Lecture 7: what
the first layer's kernels and feature maps look like, and which digits the
network gets wrong): ``confusion.png``, ``misclassified.png``, and for models
with a convolutional layer ``kernels.png`` and ``feature_maps.png``.

They are drawn from the run's folder (config, variables, preprocessor) and
the test images, so a run just trained and a run read back with
``run_experiment.py --inspect=WORKDIR`` get the same pictures.
"""

from __future__ import annotations

import os
from typing import Sequence

import flax.linen as nn
import numpy as np
from ml_collections import ConfigDict

from convnets import pictures
from convnets.data import load
from convnets.experiment.trained import TrainedRun, load_run, logits
from convnets.layers import Conv2D
from convnets.train.workdir import WorkdirError, read_json

CONFUSION, MISCLASSIFIED = "confusion.png", "misclassified.png"
KERNELS, FEATURE_MAPS = "kernels.png", "feature_maps.png"
PICTURES = (CONFUSION, MISCLASSIFIED, KERNELS, FEATURE_MAPS)


def first_layer(run: TrainedRun, image: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
  """The first convolutional layer's kernels ``(kh, kw, maps)`` (its HWIO
  kernel, averaged over its input maps: one for a greyscale image) and its
  feature maps of one raw ``(H, W)`` or ``(H, W, C)`` uint8 ``image``,
  ``(H', W', maps)`` (with the bias, before the transfer function and
  pooling); None for a model without a conv layer.

  The layer is applied again to the input it was called with: a layer that
  convolves and max-pools in one op never holds its full-size maps."""
  x = run.preprocess(image[None])
  calls = []

  def record(next_fun, args, kwargs, context):
    if isinstance(context.module, Conv2D) and context.method_name == "__call__" and not calls:
      calls.append((context.module, args[0]))
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    run.model.apply(run.variables, x, train=False)
  if not calls:
    return None
  module, inputs = calls[0]
  params = run.variables["params"]
  for key in module.path:
    params = params[key]
  maps = module.clone(parent=None).apply({"params": params}, inputs)
  return np.asarray(params["kernel"]).mean(axis=2), np.asarray(maps)[0]


def write_pictures(workdir: str, *, images: np.ndarray, labels: np.ndarray,
                   class_names: Sequence[str] | None = None,
                   predictions: np.ndarray | None = None) -> list[str]:
  """Draw the run in ``workdir``'s pictures from its test predictions on
  ``(N, H, W)`` or ``(N, H, W, C)`` uint8 ``images`` with ``(N,)`` ``labels``
  (named by ``class_names``; default the digits): ``(N,)`` ``predictions``
  as the run's test made them, or None to predict from its saved variables.
  Returns the files written (kernels and feature maps only for a model with
  a conv layer)."""
  run = load_run(workdir)
  if predictions is None:
    predictions = logits(run.model, run.variables, images, run.preprocess).argmax(-1)
  name = run.config.model.name
  written = [CONFUSION, MISCLASSIFIED]
  pictures.draw_confusion(labels=labels, predictions=predictions, class_names=class_names,
                          path=os.path.join(workdir, CONFUSION),
                          title=f"{name}, seed {run.config.seed}: test confusion matrix")
  pictures.draw_misclassified(images=images, labels=labels, predictions=predictions,
                              class_names=class_names, path=os.path.join(workdir, MISCLASSIFIED),
                              title=f"{name}, seed {run.config.seed}: misclassified test images")
  label_of = (lambda k: f"a {int(k)}") if class_names is None else (lambda k: class_names[k])
  layer = first_layer(run, images[0])
  if layer is not None:
    kernels, maps = layer
    pictures.draw_kernels(sets=[("first conv layer, learned", kernels)],
                          path=os.path.join(workdir, KERNELS),
                          title=f"{name}, seed {run.config.seed}: first-layer kernels")
    pictures.draw_feature_maps(
        image=pictures.greyscale(images[:1])[0],
        sets=[("first conv layer (before its transfer function)", maps)],
        path=os.path.join(workdir, FEATURE_MAPS),
        title=f"{name}, seed {run.config.seed}: feature maps of test image 0 "
              f"({label_of(labels[0])})")
    written += [KERNELS, FEATURE_MAPS]
  return written


def check_finished(workdir: str, *, what: str) -> None:
  """A WorkdirError (one line, naming ``what``, e.g. the flag) unless
  ``workdir`` holds a finished, not diverged, run with its variables."""
  fix = "give the workdir of a finished training run"
  if not os.path.isdir(workdir):
    raise WorkdirError(f"{what}: {workdir} is not a folder; {fix}")
  missing = [f for f in ("config.json", "summary.json", "variables.msgpack", "preprocessor.npz")
             if not os.path.isfile(os.path.join(workdir, f))]
  if missing:
    raise WorkdirError(f"{what}: {workdir} has no {', '.join(missing)}; {fix} (an "
                       "experiment's runs are its <variant>/seed<k>/ folders)")
  if read_json(os.path.join(workdir, "summary.json")).get("status") == "diverged":
    raise WorkdirError(f"{what}: the run in {workdir} diverged; it has no predictions to draw")


def inspect(workdir: str, *, data_dir: str | None, download: bool = False) -> list[str]:
  """``run_experiment.py --inspect=WORKDIR``: the pictures of the finished run
  in ``workdir``, from its saved config and variables and the test split of
  its data; training nothing. Returns the files written."""
  check_finished(workdir, what=f"--inspect={workdir}")
  config = ConfigDict(read_json(os.path.join(workdir, "config.json")))
  data = load(data_dir, name=config.data.get("name", "mnist"), source=config.data.source,
              download_missing=download, train_size=config.data.train_size)
  return write_pictures(workdir, images=data.test.images, labels=data.test.labels,
                        class_names=data.class_names)
