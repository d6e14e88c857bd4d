"""``--config.data.source=tfds``: a prepared array_record directory is read
through tfds's own reader, offline; every other case is one DataError line
naming what is missing, raised before any download is tried."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import types

import numpy as np
import pytest

from convnets.data import DataError, load

tfds = pytest.importorskip("tensorflow_datasets")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def png(image: np.ndarray) -> bytes:
  from PIL import Image

  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format="PNG")
  return buffer.getvalue()


def write_tfds_mnist(data_dir, arrays: dict[str, tuple[np.ndarray, np.ndarray]],
                     file_format: str = "array_record") -> None:
  """A tfds data directory holding ``mnist/3.0.1`` as tfds's own builder would
  write it (MNIST's features, records serialised by tfds, its metadata), of
  ``arrays``' splits, written with tfds's and array_record's writers (no
  TensorFlow). For ``file_format="tfrecord"`` the record files are only named."""
  from array_record.python.array_record_module import ArrayRecordWriter

  features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(28, 28, 1)),
                                         "label": tfds.features.ClassLabel(num_classes=10)})
  folder = os.path.join(data_dir, "mnist", "3.0.1")
  os.makedirs(folder)
  infos = []
  for split, (images, labels) in arrays.items():
    template = tfds.core.ShardedFileTemplate(data_dir=folder, dataset_name="mnist", split=split,
                                             filetype_suffix=file_format)
    path = os.fspath(template.sharded_filepath(shard_index=0, num_shards=1))
    records = [features.serialize_example({"image": png(image), "label": int(label)})
               for image, label in zip(images, labels)]
    if file_format == "array_record":
      writer = ArrayRecordWriter(path, "group_size:1")
      for record in records:
        writer.write(record)
      writer.close()
    else:
      open(path, "wb").close()
    infos.append(tfds.core.SplitInfo(name=split, shard_lengths=[len(records)],
                                     num_bytes=sum(map(len, records)), filename_template=template))
  tfds.folder_dataset.write_metadata(data_dir=folder, features=features, split_infos=infos,
                                     version="3.0.1", check_data=False)


def fake_arrays(n_train: int = 12, n_test: int = 4) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  rng = np.random.default_rng(0)
  return {split: (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                  rng.integers(0, 10, n).astype(np.int32))
          for split, n in (("train", n_train), ("test", n_test))}


@pytest.fixture
def no_network(monkeypatch):
  """Every socket connection fails; the list records the attempts."""
  attempts = []

  def refuse(address, *args, **kwargs):
    attempts.append(address)
    raise ConnectionRefusedError(111, "Connection refused (network disabled by the test)")

  monkeypatch.setattr(socket, "create_connection", refuse)
  monkeypatch.setattr(socket.socket, "connect", lambda self, address: refuse(address))
  return attempts


def test_reads_a_prepared_array_record_dir_offline(tmp_path, no_network):
  arrays = fake_arrays()
  write_tfds_mnist(tmp_path, arrays)
  data = load(str(tmp_path), source="tfds", train_size=9)
  np.testing.assert_array_equal(data.train.images, arrays["train"][0][:9])
  np.testing.assert_array_equal(data.valid.labels, arrays["train"][1][9:])
  np.testing.assert_array_equal(data.test.images, arrays["test"][0])
  assert data.test.labels.dtype == np.int32 and no_network == []


def test_unprepared_dir_is_one_error_without_download(tmp_path, no_network):
  with pytest.raises(DataError, match=r"not prepared for tfds in .*--download") as e:
    load(str(tmp_path / "empty"), source="tfds")
  assert "\n" not in str(e.value) and no_network == []


def test_tfrecord_only_dir_says_array_record_is_needed(tmp_path, no_network):
  write_tfds_mnist(tmp_path, fake_arrays(), file_format="tfrecord")
  with pytest.raises(DataError, match=r"tfrecord format.*reads only array_record"):
    load(str(tmp_path), source="tfds")


def test_preparing_without_tensorflow_says_so(tmp_path, monkeypatch, no_network):
  monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` fails
  with pytest.raises(DataError, match=r"needs TensorFlow, which is not installed.*pip install"):
    load(str(tmp_path), source="tfds", download_missing=True)
  assert no_network == []


def test_preparing_offline_tries_the_network_once(tmp_path, monkeypatch, no_network):
  monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
  with pytest.raises(DataError, match=r"storage.googleapis.com is not reachable"):
    load(str(tmp_path), source="tfds", download_missing=True)
  assert len(no_network) == 1


def test_without_tfds_installed_says_how_to_install(monkeypatch):
  monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
  with pytest.raises(DataError, match=r"needs tensorflow-datasets.*pip install"):
    load("unused", source="tfds")


def test_damaged_records_are_one_error(tmp_path, no_network):
  write_tfds_mnist(tmp_path, fake_arrays())
  folder = tmp_path / "mnist" / "3.0.1"
  for path in folder.glob("*.array_record-*"):
    path.write_bytes(b"not an array_record file")
  with pytest.raises(DataError, match=r"could not read MNIST from .*prepare it again"):
    load(str(tmp_path), source="tfds")


def test_cli_prints_one_error_line(tmp_path):
  run = subprocess.run([sys.executable, os.path.join(ROOT, "run_experiment.py"),
                        "--config.data.source=tfds", f"--data_dir={tmp_path}",
                        f"--workdir={tmp_path / 'run'}"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
  assert run.returncode != 0
  assert run.stderr.splitlines() == [run.stderr.strip()], run.stderr
  assert run.stderr.startswith("error: MNIST is not prepared for tfds") and not os.listdir(
      tmp_path)
