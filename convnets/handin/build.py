"""The coursework hand-in report: ``report.html`` (self-contained: figures
and equations embedded as data URIs) and ``report.pdf`` with the same
content, from finished experiments' ``results.json``; trains nothing.

Per topic, in the coursework's order: research question, motivation,
methods and algorithms (the equations that matter, then the experiment's
method and shared settings), results (mean ± std test error over seeds,
the topic's own tables and figures) and a discussion with conclusions in
prose (:mod:`convnets.experiment.discussion`); then a summary table over
topics and the references. Every number comes from the results.

Both files are reproducible: nothing depends on the clock, the topics keep
the catalogue's order, and the PDF carries no dates; its Subject names the
SHA-256 of the HTML it was made from, so that a check can tell a stale PDF
without rendering it again (:func:`pdf_is_current`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from typing import Any, Sequence

import jinja2
from markupsafe import Markup

from convnets.experiment import discussion, reasked, report, stats
from convnets.experiment.formats import percent
from convnets.experiment.values import Comparison, Value
from convnets.handin import markup, mathtext, topics
from convnets.handin.sources import Entry

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
TITLE = "Convolutional networks on MNIST"
SUBTITLE = "Coursework 2 report: MLP Lecture 7, research questions answered by experiment"
DIGEST = "built from report.html, sha256 "


@dataclasses.dataclass(frozen=True)
class Shown:
  """An equation or a figure as the template shows it: its image and text."""
  uri: str
  text: str


def _equations(equations: Sequence[topics.Equation]) -> list[Shown]:
  return [Shown(mathtext.data_uri(e.tex), e.what) for e in equations]


def _anchor(entry: Entry, entries: Sequence[Entry]) -> str:
  """The topic's id: its experiment's name, with its data set's and its
  folder's where an experiment has several result folders."""
  name = entry.results["experiment"]
  if sum(e.results["experiment"] == name for e in entries) > 1:
    return f"{name}-{reasked.dataset(entry.results)}-{os.path.basename(entry.folder)}"
  return name


def _beyond(entry: Entry) -> tuple[str, str]:
  """How many differences from the reference, and of the experiment's own
  comparisons, exceed seed-to-seed noise: ``("3 of 5", "1 of 4")``."""
  tested = entry.results["comparisons"]
  against = f"{sum(bool(c['significant']) for c in tested.values())} of {len(tested)}"
  own = [f for f in entry.findings if isinstance(f, Comparison)]
  mine = f"{sum(bool(stats.pair(c.a, c.b)['significant']) for c in own)} of {len(own)}"
  return against, mine if own else "–"


def topic(entry: Entry, entries: Sequence[Entry]) -> dict[str, Any]:
  """What the template shows of one topic."""
  results, text = entry.results, entry.text
  own = [f for f in entry.findings if isinstance(f, Comparison)]
  name = results["experiment"]
  best, _ = discussion.extremes(results["variants"])
  reference = discussion.reference_variant(results)
  figures = [Shown(markup.png_uri(os.path.join(entry.folder, f["file"])), f["caption"])
             for f in results["figures"] if os.path.isfile(os.path.join(entry.folder, f["file"]))]
  against, mine = _beyond(entry)
  return {
      "id": _anchor(entry, entries), "name": name, "title": report.title(results, text),
      "question": markup.html(text.question), "motivation": markup.html(text.motivation),
      "equations": _equations(topics.EQUATIONS.get(name, ())),
      "method": markup.html(report.method(results, text)),
      "cites": [topics.REFERENCES[k][0] for k in topics.CITES.get(name, ())],
      "runs": markup.inline(report.runs_line(results)),
      "table": markup.html(report.table(results)),
      "findings": markup.html(report.findings_markdown(entry.findings)),
      "figures": figures,
      "discussion": markup.html(discussion.discussion(
          results, own, text.limitations, [f for f in entry.findings if isinstance(f, Value)])),
      "summary": {"best": best["label"], "best_error": percent(best["test_error"]["mean"],
                                                               best["test_error"]["std"]),
                  "reference": reference["label"],
                  "reference_error": percent(reference["test_error"]["mean"],
                                             reference["test_error"]["std"]),
                  "against": against, "own": mine,
                  "runs": f"{len(results['variants'])} x {len(results['settings']['seeds'])}, "
                          f"{report.epochs(results)}"},
  }


def references(entries: Sequence[Entry]) -> list[Markup]:
  """The references the introduction and the topics cite, by their labels' order."""
  keys = dict.fromkeys([*topics.COMMON_CITES, *(k for e in entries
                                                for k in topics.CITES.get(e.results["experiment"],
                                                                          ()))])
  return [markup.inline(topics.REFERENCES[k][1]) for k in
          sorted(keys, key=lambda k: topics.REFERENCES[k][0])]


def render_html(entries: Sequence[Entry]) -> str:
  """The whole ``report.html`` of ``entries`` (in their order)."""
  environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                   autoescape=True, undefined=jinja2.StrictUndefined,
                                   keep_trailing_newline=True)
  with open(os.path.join(TEMPLATES, "report.css"), encoding="utf-8") as f:
    css = Markup(f.read())
  return environment.get_template("report.html.j2").render(
      title=TITLE, subtitle=SUBTITLE, css=css, topics=[topic(e, entries) for e in entries],
      common=_equations(topics.COMMON),
      common_cites=[topics.REFERENCES[k][0] for k in topics.COMMON_CITES],
      references=references(entries))


def digest(html: str) -> str:
  return hashlib.sha256(html.encode("utf-8")).hexdigest()


def pdf_bytes(html: str, base_url: str) -> bytes:
  """``html`` typeset by WeasyPrint, without dates, its Subject the HTML's digest."""
  import weasyprint  # a few seconds to import: only when a PDF is made

  # WeasyPrint warns, per font, that it subsets with fontTools: noise to a reader.
  logging.getLogger("weasyprint").setLevel(logging.ERROR)
  logging.getLogger("fontTools").setLevel(logging.ERROR)
  document = weasyprint.HTML(string=html, base_url=base_url).render()
  document.metadata.description = DIGEST + digest(html)
  document.metadata.generator = "convnets.handin"
  document.metadata.created = document.metadata.modified = None
  return document.write_pdf(uncompressed_pdf=False)


def pdf_is_current(pdf_path: str, html: str) -> bool:
  """Whether ``pdf_path`` exists and was made from ``html`` (its Subject says so)."""
  if not os.path.isfile(pdf_path):
    return False
  import pypdfium2

  pdf = pypdfium2.PdfDocument(pdf_path)
  try:
    return pdf.get_metadata_dict().get("Subject") == DIGEST + digest(html)
  finally:
    pdf.close()


def write(out_dir: str, html: str) -> tuple[str, str]:
  """``OUT/report.html`` and ``OUT/report.pdf`` from ``html``; their paths."""
  os.makedirs(out_dir, exist_ok=True)
  html_path, pdf_path = (os.path.join(out_dir, f"report.{x}") for x in ("html", "pdf"))
  with open(html_path, "w", encoding="utf-8") as f:
    f.write(html)
  pdf = pdf_bytes(html, out_dir)
  with open(pdf_path, "wb") as f:
    f.write(pdf)
  return html_path, pdf_path


def build(entries: Sequence[Entry], out_dir: str) -> tuple[str, str]:
  """The report of ``entries`` into ``out_dir``; the HTML's and the PDF's paths."""
  return write(out_dir, render_html(entries))


def regenerate(entries: Sequence[Entry], out_dir: str, check: bool = False) -> list[str]:
  """The committed report kept current: ``OUT/report.html`` rendered anew
  from ``entries`` (the figures as they are on disk now) and compared with
  the file; ``OUT/report.pdf`` stale unless made from that HTML. Writes both
  when either differs, unless ``check``. Returns the paths that differ(ed)."""
  html = render_html(entries)
  html_path, pdf_path = (os.path.join(out_dir, f"report.{x}") for x in ("html", "pdf"))
  current = None
  if os.path.isfile(html_path):
    with open(html_path, encoding="utf-8") as f:
      current = f.read()
  changed = [p for p, ok in ((html_path, current == html),
                             (pdf_path, pdf_is_current(pdf_path, html))) if not ok]
  if changed and not check:
    write(out_dir, html)
  return changed
