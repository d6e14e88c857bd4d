"""``benchmarks/device_check.sh``'s command line. (A ``--short`` run of every
step takes minutes on a CPU, too long for CI: it is run by hand, see the
script's header.)"""

from __future__ import annotations

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_unknown_argument_is_one_error_line_before_any_step():
  run = subprocess.run(["bash", os.path.join(ROOT, "benchmarks", "device_check.sh"), "--shrot"],
                       capture_output=True, text=True, timeout=30)
  assert run.returncode == 2 and run.stdout == ""
  assert run.stderr.strip() == ("error: unknown argument --shrot (usage: "
                                "benchmarks/device_check.sh [--short] [--out=DIR])")
