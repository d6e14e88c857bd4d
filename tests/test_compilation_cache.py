"""The persistent compilation cache (convnets/compilation_cache.py): on by
default, read back by the next run with the same numbers, off with
``--nocompilation_cache``, and a folder that cannot be made costs only the cache."""

from __future__ import annotations

import os
import subprocess

from cli_runs import ENV, ROOT, TIMEOUT, command, numbers, succeeded, summary
from convnets import compilation_cache

TINY = ("--model=mlp_300", "--config.data.train_subset=500", "--config.epochs=1",
        "--config.tensorboard=False")


def _run(workdir: str, data_dir: str, *flags: str, **env: str) -> subprocess.CompletedProcess:
  """A tiny run with none of the tests' own JAX cache settings, plus ``env``."""
  env = {**{k: v for k, v in ENV.items() if not k.startswith("JAX_")}, **env}
  return subprocess.run(command(*TINY, f"--workdir={workdir}", f"--data_dir={data_dir}", *flags),
                        capture_output=True, text=True, cwd=ROOT, timeout=TIMEOUT, env=env)


def test_a_second_run_compiles_nothing_new_and_gives_the_same_numbers(tmp_path, mnist_dir):
  cache = tmp_path / "convnets" / "xla"  # the per-user default, under XDG_CACHE_HOME
  succeeded(_run(str(tmp_path / "first"), mnist_dir, XDG_CACHE_HOME=str(tmp_path)))
  entries = sorted(os.listdir(cache))
  assert len(entries) >= 3  # the epoch, the evaluation and the initialisation at least
  succeeded(_run(str(tmp_path / "second"), mnist_dir, XDG_CACHE_HOME=str(tmp_path)))
  assert sorted(os.listdir(cache)) == entries  # every program was read back
  assert (numbers(summary(str(tmp_path / "first")))
          == numbers(summary(str(tmp_path / "second"))))


def test_nocompilation_cache_writes_no_cache_even_where_jax_is_told_to(tmp_path, mnist_dir):
  cache = tmp_path / "cache"
  succeeded(_run(str(tmp_path / "run"), mnist_dir, "--nocompilation_cache",
                 JAX_COMPILATION_CACHE_DIR=str(cache)))
  assert not cache.exists()


def test_a_folder_that_cannot_be_made_is_a_note_not_a_failure(capsys):
  assert compilation_cache.enable("/proc/no-such-cache") is None
  note = capsys.readouterr().err
  assert note.startswith("note: no compilation cache (/proc/no-such-cache:")
  assert "--nocompilation_cache" in note
