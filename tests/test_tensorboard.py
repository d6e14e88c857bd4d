"""TensorBoard event files from a run's epoch records and PNG figures, read
back record by record (length, CRC-32C, ``Event`` protobuf), without TensorFlow."""

from __future__ import annotations

import glob
import struct

import matplotlib
import pytest

from convnets.train.tensorboard import EventWriter, events_dir

matplotlib.use("Agg")
from tensorboardX.crc32c import crc32c  # noqa: E402
from tensorboardX.proto.event_pb2 import Event  # noqa: E402


def masked_crc(data: bytes) -> int:
  """TFRecord's masked CRC-32C of ``data``."""
  x = crc32c(data) & 0xFFFFFFFF
  return (((x >> 15) | (x << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(path: str) -> list[Event]:
  """Every event in the TFRecord file ``path``, each record's CRCs checked."""
  events = []
  with open(path, "rb") as f:
    data = f.read()
  at = 0
  while at < len(data):
    header = data[at:at + 8]
    (length,) = struct.unpack("<Q", header)
    (header_crc,) = struct.unpack("<I", data[at + 8:at + 12])
    payload = data[at + 12:at + 12 + length]
    (payload_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
    assert header_crc == masked_crc(header) and payload_crc == masked_crc(payload)
    events.append(Event.FromString(payload))
    at += 16 + length
  return events


def records(epochs: int) -> list[dict]:
  return [{"epoch": e, "train_loss": 1.0 / e, "valid_accuracy": 0.9 + e / 100,
           "learning_rate": 1e-3, "epoch_seconds": 2.0, "wall_time": 1_700_000_000.0 + e,
           "note": "not a number", "skipped": float("nan"), "flag": True}
          for e in range(1, epochs + 1)]


def test_scalars_and_images_read_back(tmp_path):
  import matplotlib.pyplot as plt

  figure_path = str(tmp_path / "curves.png")
  plt.figure(figsize=(2, 1.5))
  plt.plot([1, 2, 3])
  plt.savefig(figure_path, dpi=50)  # explicit: the project style sets a savefig dpi
  plt.close()
  with EventWriter(str(tmp_path)) as events:
    for record in records(3):
      events.epoch(record)
    events.image("curves", figure_path, step=3)
  (path,) = glob.glob(f"{events_dir(str(tmp_path))}/events.out.tfevents.*")
  read = [e for e in read_events(path) if e.HasField("summary")]
  scalars = {(v.tag, e.step): v.simple_value for e in read for v in e.summary.value
             if v.HasField("simple_value")}
  assert {tag for tag, _ in scalars} == {"train_loss", "valid_accuracy", "learning_rate",
                                        "epoch_seconds"}
  assert scalars[("train_loss", 2)] == pytest.approx(0.5)
  assert scalars[("valid_accuracy", 3)] == pytest.approx(0.93)
  assert [e.wall_time for e in read[:3]] == [1_700_000_001.0, 1_700_000_002.0, 1_700_000_003.0]
  (image,) = [(v, e.step) for e in read for v in e.summary.value if v.HasField("image")]
  assert image[1] == 3 and (image[0].image.width, image[0].image.height) == (100, 75)
  assert image[0].image.encoded_image_string == open(figure_path, "rb").read()


def test_a_training_run_writes_its_epochs_and_curves(mnist, tmp_path):
  """With config.tensorboard on (the default), every epoch of metrics.jsonl is
  in the run's event file, and the curves image after the last."""
  from convnets.configs import configure
  from convnets.configs.default import get_config
  from convnets.train import train_and_evaluate
  from convnets.train.workdir import read_jsonl

  workdir = str(tmp_path / "run")
  config = configure(get_config("mlp_300"), {"epochs": 2, "data.train_subset": 500})
  train_and_evaluate(config, workdir, data=mnist, log=lambda line: None)
  path, = glob.glob(f"{events_dir(workdir)}/events.out.tfevents.*")
  events = read_events(path)
  losses = {e.step: v.simple_value for e in events for v in e.summary.value
            if v.tag == "valid_loss"}
  history = read_jsonl(f"{workdir}/metrics.jsonl")
  assert losses == pytest.approx({r["epoch"]: r["valid_loss"] for r in history})
  assert any(v.tag == "curves" and e.step == 2 for e in events for v in e.summary.value)
