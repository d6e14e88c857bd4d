"""Re-render every committed report (``results/**/results.md``) and the
README's generated blocks from the result files, training nothing.

  python -m experiments.publish           # write what changed, figures and report included
  python -m experiments.publish --check   # list what would change; exit 1 if any

The library function is :func:`convnets.experiment.publish.regenerate`; this
module gives it every experiment (``experiments.NAMES``) and the ``best``
configuration's text (``experiments/best.md``).
"""

from __future__ import annotations

import os
import sys

from convnets.experiment import publish
from convnets.experiment.spec import load_text
from experiments import NAMES, get
from experiments.best_search import TARGET_ERROR

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "results")
README = os.path.join(ROOT, "README.md")
BEST_TEXT = os.path.join(ROOT, "experiments", "best.md")
# The coursework hand-in report of every experiment (convnets.handin).
REPORT = os.path.join(RESULTS, "report")


def regenerate(check: bool = False, figures: bool = False) -> list[str]:
  """:func:`convnets.experiment.publish.regenerate` on this repository's
  results and README (and with ``figures`` the figures the results alone
  give); the paths that differ(ed), relative to the repository."""
  changed = publish.regenerate(RESULTS, README, {name: get(name) for name in NAMES},
                               load_text(BEST_TEXT), TARGET_ERROR, check=check,
                               figures=figures, report_dir=REPORT)
  return [os.path.relpath(path, ROOT) for path in changed]


def main(argv: list[str]) -> int:
  unknown = [a for a in argv if a != "--check"]
  if unknown:
    print(f"error: unknown argument {unknown[0]!r}; usage: python -m experiments.publish "
          "[--check]", file=sys.stderr)
    return 2
  check = "--check" in argv
  changed = regenerate(check, figures=True)
  for path in changed:
    print(("would change: " if check else "wrote: ") + path)
  if check and changed:
    print(f"{len(changed)} generated file(s) differ from what results/**/*.json gives; run "
          "python -m experiments.publish", file=sys.stderr)
  return 1 if check and changed else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
