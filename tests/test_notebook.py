"""The Colab notebook runs top to bottom on a CPU under ``CONVNETS_QUICK=1``
(no install outside Colab, JAX in the kernel, both jobs through the Python
API), and its outputs show what it promises: devices, epoch lines, figures."""

from __future__ import annotations

import base64
import os
import shutil

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "notebooks", "colab_tpu.ipynb")
TIMEOUT_S = 240  # per cell


def text_of(cell) -> str:
  """What a code cell printed (streams, Markdown and text results)."""
  parts = []
  for output in cell.get("outputs", []):
    data = output.get("data", {})
    parts.append(output.get("text", "") or data.get("text/markdown", data.get("text/plain", "")))
  return "".join(parts)


def images_in(cell) -> int:
  """How many PNG images (real ones: the signature, a plausible size) the cell shows."""
  pngs = [base64.b64decode(output["data"]["image/png"]) for output in cell.get("outputs", [])
          if "image/png" in output.get("data", {})]
  return sum(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000 for png in pngs)


@pytest.fixture(scope="module")
def executed(tmp_path_factory, mnist_dir):
  """The notebook executed in a copy of ``notebooks/`` (so its outputs and
  runs stay out of the checkout), ``CONVNETS_QUICK=1``, the checkout on the path."""
  folder = tmp_path_factory.mktemp("notebook")
  path = shutil.copy(NOTEBOOK, folder)
  notebook = nbformat.read(path, as_version=4)
  env = {"CONVNETS_QUICK": "1", "CONVNETS_DATA_DIR": mnist_dir,
         "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
  old = {key: os.environ.get(key) for key in env}
  os.environ.update(env)  # the kernel inherits this process's environment
  try:
    nbclient.NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
  finally:
    for key, value in old.items():
      if value is None:
        os.environ.pop(key)
      else:
        os.environ[key] = value
  return notebook, folder


def code_cells(notebook) -> list:
  return [cell for cell in notebook.cells if cell.cell_type == "code"]


def cell_with(notebook, snippet: str):
  (cell,) = [c for c in code_cells(notebook) if snippet in c.source]
  return cell


def test_every_cell_ran_without_error(executed):
  notebook, _ = executed
  for cell in code_cells(notebook):
    assert cell.execution_count is not None
    assert not [o for o in cell.outputs if o.output_type == "error"], cell.source


def test_no_subprocess_training_and_jax_imported_once(executed):
  notebook, _ = executed
  sources = "\n".join(cell.source for cell in code_cells(notebook))
  assert "run_experiment.py" not in sources and "!python" not in sources
  assert sources.count("import jax\n") == 1
  install = cell_with(notebook, "def accelerator")
  assert sources.index("def accelerator") < sources.index("import jax\n")
  assert "accelerator: cpu; Colab: False" in text_of(install)


def test_outputs_show_devices_training_and_figures(executed):
  notebook, folder = executed
  assert "quick: True" in text_of(cell_with(notebook, "REPO_URL ="))
  assert "backend cpu" in text_of(cell_with(notebook, "jax.devices()"))
  main = cell_with(notebook, "train_and_evaluate(config")
  assert "epoch   1/1" in text_of(main) and '"test_accuracy"' in text_of(main)
  assert images_in(main) == 1
  experiment = cell_with(notebook, "run_experiment(experiment")
  assert "[pooling 1/2 max]" in text_of(experiment) and images_in(experiment) >= 2
  assert "| max |" in text_of(cell_with(notebook, "results.md"))
  assert sorted(os.listdir(folder / "runs"))[0].endswith("-convnet")
