"""TensorBoard event files of a run, written without TensorFlow (tensorboardX).

A run's per-epoch records (``metrics.jsonl``'s dicts: ``epoch``, the losses
and accuracies, the learning rate, timings) become scalars at step
``epoch``; PNG files (``curves.png``, an experiment's figures) become images,
their bytes stored as they are (not decoded and encoded again). Everything
goes to ``WORKDIR/tensorboard/``, which ``tensorboard --logdir=WORKDIR``
shows.

  with EventWriter(workdir) as events:
    for record in history:
      events.epoch(record)
    events.image("curves", os.path.join(workdir, "curves.png"), step=len(history))
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

from PIL import Image
from tensorboardX import FileWriter
from tensorboardX import summary as tb_summary
from tensorboardX.proto.summary_pb2 import Summary

DIRNAME = "tensorboard"
STEP, WALL_TIME = "epoch", "wall_time"  # a record's step and time, not scalars


def events_dir(workdir: str) -> str:
  """The folder a run's event files go in."""
  return os.path.join(workdir, DIRNAME)


def is_scalar(value: Any) -> bool:
  """Whether ``value`` is a finite number TensorBoard can plot (not a bool)."""
  return (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value))


class EventWriter:
  """An event file in ``WORKDIR/tensorboard/``; a context manager (closes on exit).

  Args:
    workdir: the run's folder.
    flush_secs: at most this long between writes to disk (also on close).
  """

  def __init__(self, workdir: str, flush_secs: int = 30) -> None:
    self._writer = FileWriter(events_dir(workdir), flush_secs=flush_secs)

  def epoch(self, record: Mapping[str, Any]) -> None:
    """Each numeric field of ``record`` (one epoch's) as a scalar at step
    ``record["epoch"]``, stamped with its ``wall_time`` when it has one."""
    step = int(record[STEP])
    values = [tb_summary.scalar(key, float(value)).value[0] for key, value in record.items()
              if key not in (STEP, WALL_TIME) and is_scalar(value)]
    self._writer.add_summary(Summary(value=values), global_step=step,
                             walltime=record.get(WALL_TIME))

  def image(self, tag: str, png_path: str, step: int) -> None:
    """The PNG file ``png_path`` as image ``tag`` at ``step``."""
    with open(png_path, "rb") as f:
      encoded = f.read()
    with Image.open(png_path) as image:
      width, height = image.size
      channels = len(image.getbands())
    picture = Summary.Image(height=height, width=width, colorspace=channels,
                            encoded_image_string=encoded)
    self._writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=picture)]),
                             global_step=step)

  def flush(self) -> None:
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()

  def __enter__(self) -> "EventWriter":
    return self

  def __exit__(self, *exc: Any) -> None:
    self.close()
