"""The coursework hand-in report (``convnets/handin``): the committed
``results/report/`` must be what ``python -m experiments.publish`` builds
from the committed results; the PDF renders (pages that are not blank), has
the report's sections, and embeds every figure the topics list; the command
line selects topics and refuses bad ones in one line."""

from __future__ import annotations

import base64
import os
import re

import numpy as np
import pypdfium2
import pytest

from convnets.handin import build, mathtext, sources, topics
from experiments import NAMES, get
from experiments import publish as script
from tests.cli_runs import error_line, run_cli, succeeded

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "results")
COMMITTED = os.path.join(RESULTS, "report")
SUBSECTIONS = ("Research question", "Motivation", "Methods and algorithms", "Results",
               "Discussion and conclusions")


@pytest.fixture(scope="module")
def entries() -> list[sources.Entry]:
  return sources.entries(RESULTS, {name: get(name) for name in NAMES})


@pytest.fixture(scope="module")
def rebuilt(entries, tmp_path_factory) -> tuple[str, str]:
  """The report of every committed result, built afresh: its HTML and PDF paths."""
  return build.build(entries, str(tmp_path_factory.mktemp("report")))


def read(path: str) -> str:
  with open(path, encoding="utf-8") as f:
    return f.read()


def pages(path: str) -> list[str]:
  """The text of each page of the PDF ``path``."""
  pdf = pypdfium2.PdfDocument(path)
  try:
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
  finally:
    pdf.close()


def ink(path: str, page: int) -> float:
  """The fraction of page ``page`` of the PDF ``path`` that is not white, rendered."""
  pdf = pypdfium2.PdfDocument(path)
  try:
    pixels = np.asarray(pdf[page].render(scale=0.5).to_pil().convert("L"))
  finally:
    pdf.close()
  return float(np.mean(pixels < 200))


def test_committed_report_is_what_the_command_builds(rebuilt):
  """Fails when a result file, a figure or the builder changed without
  `python -m experiments.publish` being run."""
  html, pdf = rebuilt
  assert read(os.path.join(COMMITTED, "report.html")) == read(html)
  committed_pdf = os.path.join(COMMITTED, "report.pdf")
  assert pages(committed_pdf) == pages(pdf)
  assert build.pdf_is_current(committed_pdf, read(html))
  assert script.REPORT == COMMITTED


def test_a_stale_pdf_is_told_from_its_digest(rebuilt, tmp_path):
  html, pdf = rebuilt
  assert build.pdf_is_current(pdf, read(html))
  assert not build.pdf_is_current(pdf, read(html) + " ")
  assert not build.pdf_is_current(str(tmp_path / "none.pdf"), read(html))
  # A folder whose HTML and PDF are missing: both differ, nothing written under check.
  assert build.regenerate([], str(tmp_path), check=True) == [
      str(tmp_path / "report.html"), str(tmp_path / "report.pdf")]
  assert os.listdir(tmp_path) == []


def test_pdf_has_every_section_and_topic_in_order(rebuilt, entries):
  text = pages(rebuilt[1])
  # Past the title page and its contents, which may run onto a second page.
  introduction = next(i for i, page in enumerate(text) if page.lstrip().startswith("Introduction"))
  whole = re.sub(r"\s+", " ", " ".join(text[introduction:]))
  titles = [" ".join(e.text.title.split()) for e in entries]
  headings = ["Introduction", "Methods common to every topic"]
  for i, title in enumerate(titles, 1):
    headings += [f"{i}. {title}"] + [f"{i}.{j} {s}" for j, s in enumerate(SUBSECTIONS, 1)]
  headings += ["Summary over topics", "References"]
  at = 0
  for heading in headings:  # each in turn, after the one before
    at = whole.find(heading, at)
    assert at >= 0, heading
  # A title page, the introduction, then every topic from a new page, two at least.
  assert len(text) >= 2 + 2 * len(entries) + 2
  starts = [i for i, page in enumerate(text[introduction:]) if re.match(r"\s*\d+\. ", page)]
  assert len(starts) == len(entries)


def images(path: str, page: int) -> int:
  """How many images page ``page`` of the PDF ``path`` draws."""
  pdf = pypdfium2.PdfDocument(path)
  try:
    return len(list(pdf[page].get_objects(filter=(pypdfium2.raw.FPDF_PAGEOBJ_IMAGE,),
                                          max_depth=5)))
  finally:
    pdf.close()


def test_pdf_pages_are_not_blank(rebuilt):
  text = pages(rebuilt[1])
  figure_page = next(i for i, page in enumerate(text) if "Figure 1." in page)
  assert ink(rebuilt[1], 0) > 0.01 and ink(rebuilt[1], figure_page) > 0.03
  # The figure's page draws it; the title page is text alone.
  assert images(rebuilt[1], figure_page) >= 1 and images(rebuilt[1], 0) == 0


def test_every_listed_figure_and_equation_is_embedded(rebuilt, entries):
  html = read(rebuilt[0])
  for entry in entries:
    for figure in entry.results["figures"]:
      with open(os.path.join(entry.folder, figure["file"]), "rb") as f:
        assert base64.b64encode(f.read()).decode() in html, figure["file"]
    for equation in topics.EQUATIONS.get(entry.results["experiment"], ()):
      assert mathtext.data_uri(equation.tex) in html, equation.tex
  # Self-contained: every image a data URI, nothing fetched.
  sources_ = re.findall(r'src="([^"]*)"', html)
  assert sources_ and all(s.startswith("data:image/") for s in sources_)
  assert "http" not in "".join(re.findall(r'(?:href|src)="([^"]*)"', html))


def test_summary_table_has_a_row_per_topic_with_its_numbers(rebuilt, entries):
  html = read(rebuilt[0])
  summary = html[html.index('id="summary"'):html.index('id="references"')]
  rows = re.findall(r"<tr><td><a href=\"#([\w-]+)\">", summary)
  assert rows == [build.topic(e, entries)["id"] for e in entries]
  for entry in entries:
    best = min((v for v in entry.results["variants"] if v["test_error"]["mean"] is not None),
               key=lambda v: v["test_error"]["mean"])
    assert f"{100 * best['test_error']['mean']:.2f} ± {100 * best['test_error']['std']:.2f}" \
        in summary


def test_references_are_those_cited():
  keys = {*topics.COMMON_CITES, *(k for cites in topics.CITES.values() for k in cites)}
  assert keys <= set(topics.REFERENCES)


def test_topics_select_through_the_command_line(tmp_path):
  out = tmp_path / "out"
  # Two experiments with results on MNIST only: one topic each.
  result = succeeded(run_cli(f"--report={out}", "--topics=regularisation,early_stopping"))
  assert "2 topics" in result.stdout
  html = read(str(out / "report.html"))
  ids = re.findall(r'<section id="([\w-]+)" class="chapter topic">', html)
  assert ids == ["early_stopping", "regularisation"]  # the catalogue's order
  assert len(pages(str(out / "report.pdf"))) >= 2 + 2 * 2


@pytest.mark.parametrize("args, expected", [
    (["--topics=batchnorm"], "error: --topics: unknown topic 'batchnorm'; did you mean "
                             "batch_norm?"),
    (["--results=EMPTY"], "error: --results=EMPTY: no results.json in it or below it"),
    (["--results=EMPTY/missing"], "error: --results=EMPTY/missing: no such folder"),
])
def test_bad_topics_and_folders_are_one_line_errors(tmp_path, args, expected):
  replace = lambda s: s.replace("EMPTY", str(tmp_path))
  line = error_line(run_cli(f"--report={tmp_path / 'out'}", *map(replace, args)))
  assert line.startswith(replace(expected)), line
  assert not os.path.exists(tmp_path / "out")


def test_a_topic_without_results_is_refused_with_the_fix():
  found = sources.entries(os.path.join(RESULTS, "early_stopping"), {"early_stopping": get(
      "early_stopping")})
  assert [e.results["experiment"] for e in sources.select(found, None, NAMES, "R")] == [
      "early_stopping"]
  with pytest.raises(ValueError, match=r"--topics: 'pooling' has no results.json under R; run "
                     r"python run_experiment.py --experiment=pooling --workdir=W"):
    sources.select(found, ["pooling"], NAMES, "R")


def test_every_topic_has_its_own_anchor(entries):
  """The contents link each topic to its own section, a question re-asked on
  another data set included (its folder has the same name as MNIST's)."""
  ids = [build.topic(e, entries)["id"] for e in entries]
  assert len(set(ids)) == len(ids), ids
