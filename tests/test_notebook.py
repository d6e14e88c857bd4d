"""The notebooks run top to bottom on a CPU under ``CONVNETS_QUICK=1`` and their
outputs show what they promise.

* ``colab_tpu``: no install outside Colab, JAX in the kernel, both jobs through
  the Python API; devices, epoch lines, figures.
* ``lecture7``: MLP Lecture 7 in code; the lecture's counts read off the
  models, convolution as cross-correlation with the flipped kernel, the
  hand-designed kernels, pooling checked by hand, a training run, and the
  gradient exercise checked against autodiff and finite differences.
"""

from __future__ import annotations

import base64
import os
import re
import shutil

import pytest

from convnets.ops import KINDS
from convnets.ops.kernels import HAND_DESIGNED

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = ("colab_tpu", "lecture7")
TIMEOUT_S = 240  # per cell


def notebook_path(name: str) -> str:
  return os.path.join(ROOT, "notebooks", f"{name}.ipynb")


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


def execute(name: str, folder: str, mnist_dir: str):
  """Notebook ``name`` executed in ``folder`` (a copy, so that its outputs and
  runs stay out of the checkout), ``CONVNETS_QUICK=1``, the checkout on the path.
  A failing cell does not stop the rest: its error is one of the outputs, which
  :func:`test_every_cell_ran_without_error` reports, and each notebook runs once."""
  path = shutil.copy(notebook_path(name), folder)
  notebook = nbformat.read(path, as_version=4)
  env = {"CONVNETS_QUICK": "1", "CONVNETS_DATA_DIR": mnist_dir,
         "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
  old = {key: os.environ.get(key) for key in env}
  os.environ.update(env)  # the kernel inherits this process's environment
  try:
    nbclient.NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}}).execute()
  finally:
    for key, value in old.items():
      if value is None:
        os.environ.pop(key)
      else:
        os.environ[key] = value
  return notebook


@pytest.fixture(scope="module")
def run_notebook(tmp_path_factory, mnist_dir):
  """``run(name) -> (notebook, folder)``: each notebook executed once per module."""
  done = {}

  def run(name: str):
    if name not in done:
      folder = tmp_path_factory.mktemp(name)
      done[name] = execute(name, folder, mnist_dir), folder
    return done[name]
  return run


@pytest.fixture
def executed(run_notebook):
  return run_notebook("colab_tpu")


@pytest.fixture
def lecture(run_notebook):
  return run_notebook("lecture7")[0]


def code_cells(notebook) -> list:
  return [cell for cell in notebook.cells if cell.cell_type == "code"]


def cell_with(notebook, snippet: str):
  (cell,) = [c for c in code_cells(notebook) if snippet in c.source]
  return cell


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs(name):
  notebook = nbformat.read(notebook_path(name), as_version=4)
  for cell in code_cells(notebook):
    assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_cell_ran_without_error(run_notebook, name):
  notebook, _ = run_notebook(name)
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


# The lecture's counts (its slides' arithmetic): 5x5 kernels on a 28x28 digit.
LECTURE_COUNTS = {
    "connections per feature map": 24 * 24 * 5 * 5,
    "bias connections per feature map": 24 * 24,
    "weights per feature map": 5 * 5,
    "biases per feature map": 1,
    "40 maps: weights": 25 * 40,
    "40 maps: biases": 40,
    "40 maps: connections": 24 * 24 * 5 * 5 * 40,
    "40 maps: bias connections": 24 * 24 * 40,
    "MLP with 100 hidden units: input-hidden weights": 784 * 100 + 100,
    "simple ConvNet: weights": 20 * (5 * 5 + 1) + 20 * 12 * 12 * 100 + 100 + 100 * 10 + 10,
}


def printed_number(text: str, label: str) -> float:
  """The number printed after ``label`` (e.g. ``max |a - b| = 1.2e-07``)."""
  match = re.search(re.escape(label) + r"\s*([-+0-9.e]+)", text)
  assert match, f"{label!r} not in the output:\n{text}"
  return float(match.group(1))


def test_lecture_counts_are_read_off_the_models(lecture):
  text = "".join(text_of(cell_with(lecture, snippet))
                 for snippet in ("def agree", "count_params(variables"))
  assert "(24, 24, 1)" in text  # d - m + 1 units per side
  for what, count in LECTURE_COUNTS.items():
    assert f"{what}: {count:,} (lecture: {count:,})" in text
  assert "| conv1/conv | Conv2D | 24x24x20 |" in text  # the model's layer table shown


def test_convolution_is_xcorr_with_the_flipped_kernel(lecture):
  cell = cell_with(lecture, "flip_kernel(w)")
  text = text_of(cell)
  assert printed_number(text, "max |conv(x, w) - xcorr(x, flip(w))| =") < 1e-5
  assert printed_number(text, "max |conv(x, w) - scipy.signal.convolve2d| =") < 1e-5
  assert printed_number(text, "max |conv(x, w) - xcorr(x, w)| =") > 0.1  # they do differ
  assert images_in(cell) == 1


def test_hand_designed_kernels_and_pooling(lecture):
  kernels = cell_with(lecture, "HAND_DESIGNED")
  names = re.findall(r"^\d\. (.+?): flip-symmetric", text_of(kernels), re.M)
  assert names == list(HAND_DESIGNED) and images_in(kernels) == 2
  pooling = cell_with(lecture, "ops.pool2d(edges")
  lines = re.findall(r"(\w+)-pooling: \(26, 26\) -> \(13, 13\); the region pools to (\S+) "
                     r"\(by hand (\S+)\)", text_of(pooling))
  assert [kind for kind, _, _ in lines] == list(KINDS)
  assert all(value == by_hand for _, value, by_hand in lines)
  values = {kind: float(value) for kind, value, _ in lines}
  # A 2x2 region sums four units; 4 decimals printed.
  assert values["max"] > 0 and values["sum"] == pytest.approx(4 * values["avg"], abs=3e-4)
  assert images_in(pooling) == 1


def test_training_shows_progress_curves_kernels_and_maps(lecture):
  run = cell_with(lecture, "train_and_evaluate(config")
  assert "epoch   1/1" in text_of(run) and "test error after 1 epoch(s):" in text_of(run)
  assert "500 train / 500 valid / 500 test examples" in text_of(run)
  assert images_in(run) == 1
  assert images_in(cell_with(lecture, "load_variables(workdir)")) == 2


def test_gradient_derivation_rendered(lecture):
  with open(os.path.join(ROOT, "docs", "conv_gradients.md")) as f:
    assert text_of(cell_with(lecture, "conv_gradients.md")) == f.read()


def test_gradient_formulas_agree_with_autodiff_and_finite_differences(lecture):
  text = text_of(cell_with(lecture, "def finite_differences"))
  for reference in ("jax.grad (XLA)", "jax.grad (handgrad)", "finite differences"):
    prefix = f"hand-written vs {reference}: relative max difference"
    match = re.search(re.escape(prefix) + r" dE/dw (\S+), dE/db (\S+)", text)
    assert match and max(map(float, match.groups())) < 1e-3, text


def test_lecture_reads_data_and_docs_without_fixed_paths(lecture):
  sources = "\n".join(cell.source for cell in code_cells(lecture))
  assert not re.search(r"""["'](/|~|\.\./)""", sources)  # no hard-coded folder
  assert "data = load()" in sources  # $CONVNETS_DATA_DIR, as the library finds it
