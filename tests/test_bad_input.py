"""Bad input through the real command line: every case exits non-zero with
one last ``error:`` line naming the field, file or flag to fix, no traceback,
and leaves the results already there (a finished run, a finished experiment,
the data) as they were, byte for byte.

The cases run once, ``WORKERS`` at a time (each is mostly Python starting
up), in a module fixture; the parametrised test checks each one's outcome.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
from typing import Callable, Iterator

import pytest

from convnets.train.checkpoints import SAVE_OVERHEAD_BYTES
from convnets.train.workdir import WorkdirError, append_jsonl
from tests.cli_runs import (EXPERIMENT, REFERENCES, TINY, copy, error_line, finished_experiment,
                            finished_run, hashes, mount_tmpfs, overlapped, run_cli)

WORKERS = 4
DATA = os.environ.get("CONVNETS_DATA_DIR", "")
MAX_RUN = "runs/max/seed0"


def _write(name: str, text: str) -> Callable[[dict[str, str]], None]:
  """A preparation that writes ``text`` to ``{here}/name``."""
  def prepare(paths: dict[str, str]) -> None:
    with open(os.path.join(paths["here"], name), "w") as f:
      f.write(text)
  return prepare


def _truncate(relative: str) -> Callable[[dict[str, str]], None]:
  """A preparation that cuts a prepared file to half its length."""
  def prepare(paths: dict[str, str]) -> None:
    path = os.path.join(paths["here"], relative)
    with open(path, "rb+") as f:
      f.truncate(os.path.getsize(path) // 2)
  return prepare


def _remove(*relatives: str) -> Callable[[dict[str, str]], None]:
  """A preparation that deletes prepared files."""
  def prepare(paths: dict[str, str]) -> None:
    for relative in relatives:
      os.remove(os.path.join(paths["here"], relative))
  return prepare


def _full_at_outputs() -> str:
  """tmpfs options with room for one checkpoint of the tiny model (its
  parameters and Adam's two moments, with what a save is allowed beyond
  them), short of the variables that follow the test."""
  variables = os.path.getsize(os.path.join(finished_run(), "variables.msgpack"))
  return f"size={3 * variables + SAVE_OVERHEAD_BYTES + 128 * 1024}"


@dataclasses.dataclass(frozen=True)
class Case:
  """Arguments and the fragment the error line must contain; ``{run}`` and
  ``{experiment}`` are copies of a finished run and experiment in ``{here}``,
  ``{mount}`` a tmpfs mounted with ``mount``'s options. ``prepare`` changes
  the copies (or adds files to ``{here}``) first; ``tested``: the run gets as
  far as its test, whose numbers must have been printed before the failed write."""
  args: tuple[str, ...]
  fragment: str
  prepare: tuple[Callable[[dict[str, str]], None], ...] = ()
  mount: str | Callable[[], str] | None = None
  tested: bool = False


def _config_file(name: str, fragment: str, text: str | None = None) -> Case:
  """``--config={here}/NAME`` on the finished run, NAME written with ``text``
  first (None: missing); the error names the file, then ``fragment``."""
  path = f"{{here}}/{name}"
  return Case(("--workdir={run}", f"--config={path}"), f"--config={path}{fragment}",
              prepare=() if text is None else (_write(name, text),))


RUN, EXP = ("--workdir={run}", *TINY), ("--workdir={experiment}", *EXPERIMENT)
CASES: dict[str, Case] = {
    "mistyped field": Case(
        (*RUN, "--config.model.hiden=(10,)"),
        "--config.model.hiden: the config has no such field; did you mean --config.model.hidden"),
    "mistyped section": Case(
        (*RUN, "--config.optimiser.learning_rate=0.1"),
        "--config.optimiser.learning_rate: the config has no such field; did you mean "
        "--config.optimizer.learning_rate"),
    "missing config file": _config_file("missing.py", ": No such file"),
    "config with a syntax error": _config_file("syntax.py", ", line 1: invalid Python",
                                               "def get_config(:\n"),
    "config without get_config": _config_file("noget.py", ": the file defines no get_config()",
                                              "EPOCHS = 3\n"),
    "config whose get_config fails": _config_file("fails.py", ", line 2: ZeroDivisionError",
                                                  "def get_config():\n  return 1 / 0\n"),
    "dropout not a number": Case(
        (*RUN, "--config.model.dropout=abc"),
        "--config.model.dropout=abc: could not convert string to float"),
    "conv_features not a tuple": Case(
        (*RUN, "--model=convnet", "--config.model.conv_features=(3"),
        "setting conv_features=('(3',) should be like its default (20,)"),
    "epochs not an integer": Case(
        (*RUN, "--config.epochs=abc"), "--config.epochs=abc: invalid literal for int()"),
    "unknown model": Case(
        (*RUN, "--model=lenet9"), "--model=lenet9: unknown model 'lenet9'; did you mean lenet5"),
    "workdir is a file": Case(
        ("--workdir={here}/file", *TINY), "workdir {here}/file is a file, not a folder",
        prepare=(_write("file", "not a folder\n"),)),
    "read-only workdir": Case(
        ("--workdir={mount}", *TINY), "could not write {mount}/.lock: Read-only file system",
        mount="ro,size=64k"),
    "full disk at the first checkpoint": Case(
        ("--workdir={mount}", *TINY), "could not write {mount}/checkpoints: No space left",
        mount="size=64k"),
    "full disk at the outputs": Case(
        ("--workdir={mount}", "--model=mlp_300", "--config.data.train_subset=1000",
         "--config.epochs=1"),
        "could not write {mount}/variables.msgpack: No space left", mount=_full_at_outputs,
        tested=True),
    "train_subset larger than the data": Case(
        (*RUN, "--config.data.train_subset=70000"),
        "config.data.train_subset=70000: larger than the 50,000 training examples"),
    "zero learning rate": Case(
        (*RUN, "--config.optimizer.learning_rate=0"),
        "config.optimizer.learning_rate=0.0: must be > 0"),
    "zero epochs": Case((*RUN, "--config.epochs=0"), "config.epochs=0: must be an integer >= 1"),
    "overwrite with resume, a run": Case(
        (*RUN, "--overwrite", "--resume"), "--overwrite and --resume contradict each other"),
    "unfinished run with a truncated config.json": Case(
        RUN, "cannot read {run}/config.json",
        prepare=(_remove("run/summary.json"), _truncate("run/config.json"))),
    "finished run without config.json, on --resume": Case(
        (*EXP, "--resume"), f"cannot read {{experiment}}/{MAX_RUN}/config.json",
        prepare=(_remove(f"experiment/{MAX_RUN}/config.json"),)),
    "truncated summary.json, on --resume": Case(
        (*EXP, "--resume"), f"cannot read {{experiment}}/{MAX_RUN}/summary.json",
        prepare=(_truncate(f"experiment/{MAX_RUN}/summary.json"),)),
    "truncated metrics.jsonl, on --resume": Case(
        (*EXP, "--resume"), f"cannot read {{experiment}}/{MAX_RUN}/metrics.jsonl",
        prepare=(_truncate(f"experiment/{MAX_RUN}/metrics.jsonl"),)),
    "empty --variants": Case((*EXP, "--variants="), "--variants is empty"),
    "overwrite with resume, an experiment": Case(
        (*EXP, "--overwrite", "--resume"), "--overwrite and --resume contradict each other"),
    "unknown experiment": Case(
        ("--workdir={experiment}", "--experiment=polling"),
        "unknown experiment 'polling'; did you mean pooling?"),
    "unknown variant": Case(
        (*EXP, "--variants=max,median"), "experiment 'pooling' has no variant 'median'"),
    "experiment with zero epochs": Case(
        (*EXP, "--config.epochs=0"),
        "experiment 'pooling', variant 'max': config.epochs=0: must be an integer >= 1"),
    "experiment workdir is a file": Case(
        ("--workdir={here}/file", *EXPERIMENT), "workdir {here}/file is a file, not a folder",
        prepare=(_write("file", "not a folder\n"),)),
}


@dataclasses.dataclass
class Outcome:
  """A case's paths, what its command printed, and the hashes of what it must
  not touch: its folder (copies, files) and the data."""
  paths: dict[str, str]
  result: subprocess.CompletedProcess | None = None
  before: dict[str, str] = dataclasses.field(default_factory=dict)
  after: dict[str, str] = dataclasses.field(default_factory=dict)
  skipped: str | None = None


def _set_up(case: Case, here: str, unmounts: list[Callable[[], None]]) -> Outcome:
  """Copy what the case names into ``here``, prepare it, mount its tmpfs
  (beside ``here``), and hash what it must not touch."""
  paths = {"here": here, "run": os.path.join(here, "run"),
           "experiment": os.path.join(here, "experiment"), "mount": here + "-mount"}
  used = " ".join(case.args)
  if "{run}" in used:
    copy(finished_run(), paths["run"])
  if "{experiment}" in used:
    copy(finished_experiment(), paths["experiment"])
  for prepare in case.prepare:
    prepare(paths)
  outcome = Outcome(paths)
  if case.mount:
    try:
      unmounts.append(mount_tmpfs(paths["mount"],
                                  case.mount() if callable(case.mount) else case.mount))
    except pytest.skip.Exception as e:
      outcome.skipped = str(e)
      return outcome
  outcome.before = hashes(here, DATA)
  return outcome


def _run(case: Case, outcome: Outcome) -> None:
  if outcome.skipped is None:
    outcome.result = run_cli(*(arg.format(**outcome.paths) for arg in case.args))
    outcome.after = hashes(outcome.paths["here"], DATA)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> Iterator[dict[str, Outcome]]:
  """Every case set up, then run, ``WORKERS`` at a time."""
  overlapped(REFERENCES, len(REFERENCES))
  unmounts: list[Callable[[], None]] = []
  try:
    done = {name: _set_up(case, str(tmp_path_factory.mktemp("case")), unmounts)
            for name, case in CASES.items()}
    failed = overlapped({name: functools.partial(_run, CASES[name], done[name])
                         for name in CASES}, WORKERS)
    assert not any(failed.values()), failed
    yield done
  finally:
    for unmount in unmounts:
      unmount()


@pytest.mark.parametrize("name", CASES)
def test_bad_input_fails_in_one_line_naming_it_and_leaves_results_untouched(name, outcomes):
  """The case ends in one ``error:`` line with its fragment, no traceback; what
  was there is unchanged; a run stopped by a failed write leaves no summary,
  no half line of metrics, and printed its tested numbers if it got to them."""
  case, outcome = CASES[name], outcomes[name]
  if outcome.skipped:
    pytest.skip(outcome.skipped)
  line = error_line(outcome.result)
  assert case.fragment.format(**outcome.paths) in line, outcome.result.stderr[-2000:]
  assert outcome.after == outcome.before
  mount = outcome.paths["mount"]
  if case.mount:
    assert not os.path.exists(os.path.join(mount, "summary.json"))
    metrics = os.path.join(mount, "metrics.jsonl")
    assert not os.path.exists(metrics) or open(metrics).read().endswith("\n")
  if case.tested:
    assert "seed 0 tested: accuracy" in outcome.result.stdout


def test_a_failed_append_leaves_no_half_line(tmp_path):
  """A metrics line that a full disk cuts short is cut back: the file keeps
  only whole lines, and the failure is one WorkdirError naming it."""
  mount = str(tmp_path / "mount")
  unmount = mount_tmpfs(mount, "size=64k")
  try:
    path = os.path.join(mount, "metrics.jsonl")
    append_jsonl(path, {"epoch": 1})
    fd = os.open(os.path.join(mount, "filler"), os.O_WRONLY | os.O_CREAT)
    try:  # the rest of the disk
      while os.write(fd, b"x" * 4096):
        pass
    except OSError:
      pass
    finally:
      os.close(fd)
    before = open(path).read()
    with pytest.raises(WorkdirError, match=f"could not write {path}: No space left"):
      append_jsonl(path, {"epoch": 2, "padding": "x" * 8192})  # past its page's free room
    assert open(path).read() == before
  finally:
    unmount()
