"""The regeneration of every committed report and the README's generated
blocks from the result files (``python -m experiments.publish``): the
committed files must be what the JSON gives, and a drift must show."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from convnets.experiment import publish
from convnets.experiment.spec import Text
from experiments import get
from experiments import publish as script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = """# A project

Prose that stays.

<!-- generated:experiments -->
stale table
<!-- /generated -->

More prose.
"""


def test_committed_reports_and_readme_blocks_match_the_result_files():
  """Fails when a results.md, results/best/results.md or a README block was
  edited by hand or not regenerated after a result file or a renderer
  changed; `python -m experiments.publish` mends it."""
  assert script.regenerate(check=True) == []


@pytest.fixture
def copy(tmp_path) -> str:
  """A results folder with the committed pooling results and a README with
  one generated block."""
  os.makedirs(tmp_path / "results" / "pooling")
  shutil.copy(os.path.join(ROOT, "results", "pooling", "results.json"),
              tmp_path / "results" / "pooling")
  (tmp_path / "README.md").write_text(README)
  return str(tmp_path)


def regenerate(folder: str, check: bool) -> list[str]:
  changed = publish.regenerate(os.path.join(folder, "results"),
                               os.path.join(folder, "README.md"), {"pooling": get("pooling")},
                               Text("t", "q", "m", "h"), 0.004, check=check)
  return [os.path.relpath(path, folder) for path in changed]


def test_check_lists_the_drifted_files_and_writes_nothing(copy):
  expected = ["README.md", os.path.join("results", "pooling", "results.md")]
  assert regenerate(copy, check=True) == expected
  assert not os.path.exists(os.path.join(copy, "results", "pooling", "results.md"))
  assert regenerate(copy, check=False) == expected
  assert regenerate(copy, check=True) == []
  with open(os.path.join(copy, "README.md")) as f:
    readme = f.read()
  assert "stale table" not in readme and "[`pooling`](results/pooling/results.md)" in readme
  assert readme.startswith("# A project\n\nProse that stays.") and "More prose." in readme

  # A measured number changes in the result file: the report and the README drift.
  path = os.path.join(copy, "results", "pooling", "results.json")
  with open(path) as f:
    results = json.load(f)
  results["variants"][0]["test_error"]["mean"] = 0.5
  with open(path, "w") as f:
    json.dump(results, f)
  assert regenerate(copy, check=True) == expected


def test_an_unknown_block_is_refused(copy):
  with open(os.path.join(copy, "README.md"), "a") as f:
    f.write("<!-- generated:nonsense -->\n<!-- /generated -->\n")
  with pytest.raises(ValueError, match="'nonsense' is not one of"):
    regenerate(copy, check=True)


def test_the_command_refuses_unknown_arguments(capsys):
  assert script.main(["--write"]) == 2
  assert "usage: python -m experiments.publish [--check]" in capsys.readouterr().err
