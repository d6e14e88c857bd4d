"""The command line: train one model, describe it, or run a research experiment.

  python run_experiment.py                                  # the lecture ConvNet
  python run_experiment.py --config.model.activation=tanh --config.epochs=20
  python run_experiment.py --model=lenet5 --describe        # --model: the default config's model
  python run_experiment.py --inspect=WORKDIR                # a finished run's pictures, again
  python run_experiment.py --experiment=pooling --workdir=W [--seeds=3] [--variants=max,avg]
      [--quick] [--overwrite | --resume]
  python run_experiment.py --report=OUT [--topics=batch_norm,pooling] [--results=DIR]

Every hyperparameter lives in the config (``--config``, default
``convnets/configs/default.py``), each field overridable as
``--config.SECTION.NAME=VALUE``; the flags here only choose what to run and
where. ``--model=NAME`` is the one alias: it starts the default config from
model NAME (``get_config(NAME)``), so that ``--config.model.*`` reaches that
model's own settings. Experiments are looked up in a catalogue the caller
passes (``run_experiment.py`` passes the ``experiments`` package), so the
library never imports the experiments built on it.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
import signal
import sys
import traceback
from typing import Protocol, Sequence

from absl import flags, logging
from ml_collections import ConfigDict, config_flags

from convnets.experiment.spec import LAUNCHERS, LOCAL, Experiment, Settings

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs",
                              "default.py")
ALL = "all"
# The committed results of a source checkout (--report's default --results).
COMMITTED_RESULTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                 "results")

FLAGS = flags.FLAGS
# No default here: config_flags would load it, and its overrides, as the module
# is imported; parse_flags names the default file instead, inside its checks.
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Python config file with get_config() (default: "
    "convnets/configs/default.py); override fields as --config.SECTION.NAME=VALUE.")
flags.DEFINE_string("model", None, "Alias: start the default config from this registered "
                    "model (its own settings then reachable as --config.model.NAME=VALUE).")
flags.DEFINE_string("workdir", None, "Folder for the outputs (default: a new timestamped "
                    "folder under runs/). Must be new or empty.")
flags.DEFINE_string("data_dir", None, "Folder with the four IDX .gz files of "
                    "config.data.name (or a folder holding a <name>/ folder of them); default "
                    "$CONVNETS_DATA_DIR (mnist), $CONVNETS_FASHION_MNIST_DIR or "
                    "$CONVNETS_DATA_DIR/fashion-mnist (fashion_mnist), else "
                    "~/.cache/convnets/<name>. For tfds:NAME, the tfds data directory.")
flags.DEFINE_bool("download", False, "Fetch missing IDX files into the data folder "
                  "(SHA-256 verified), or have tfds prepare the data set.")
flags.DEFINE_bool("overwrite", False, "Replace the outputs of an earlier run in --workdir.")
flags.DEFINE_bool("describe", False, "Print the model's settings and its layer table (weights, "
                  "biases, connections) and exit without training.")
flags.DEFINE_string("experiment", None, "Run a research experiment instead of one training "
                    f"run (its name, or {ALL}: each into WORKDIR/<name>/).")
flags.DEFINE_integer("seeds", 3, "Experiments: seeds per variant (config.seed, config.seed + "
                     "1, ...).", lower_bound=1)
flags.DEFINE_list("variants", None, "Experiments: a comma-separated subset of the "
                  f"experiment's variants (default: all); with --experiment={ALL}, variants of "
                  "any experiments, each running its own.")
flags.DEFINE_bool("resume", False, "Experiments: go on in --workdir: runs that finished with "
                  "the same config are kept, the rest are trained, the report covers all.")
flags.DEFINE_bool("compilation_cache", True, "Keep compiled XLA programs on disk for the next "
                  "run ($JAX_COMPILATION_CACHE_DIR, else ~/.cache/convnets/xla).")
flags.DEFINE_bool("quick", False, "Experiments: a smoke run: 1 epoch on 2,000 examples of "
                  "each split, 1 seed (unless --config.epochs or --seeds are given).")
flags.DEFINE_string("inspect", None, "Draw the pictures of the finished run in this workdir "
                    "(confusion matrix, misclassified digits, first-layer kernels and feature "
                    "maps) into it, from its saved variables; trains nothing.")
flags.DEFINE_enum("launcher", LOCAL, LAUNCHERS, "Experiments: train the runs "
                  "here one after another (local), or as a submitit job array on the "
                  "cluster --config.cluster.* describes (submitit).")
flags.DEFINE_string("report", None, "Write the coursework hand-in report, OUT/report.html and "
                    "OUT/report.pdf, from finished experiments' results.json (--results); "
                    "trains nothing.")
flags.DEFINE_list("topics", None, "--report: a comma-separated subset of the experiments to "
                  "report (default: every one with results).")
flags.DEFINE_string("results", None, "--report: the folder to read results.json from, with "
                    "its subfolders (default: the committed results/; or an experiment's "
                    "--workdir).")


class Catalogue(Protocol):
  """The experiments by name (the ``experiments`` package)."""
  NAMES: Sequence[str]

  def get(self, name: str) -> Experiment: ...


_MODEL_FLAG = re.compile(r"^--model(=(?P<value>.*))?$")


def _with_config_file(argv: list[str]) -> list[str]:
  """``argv`` naming the config file: the default one unless ``--config=FILE``
  is given, from the model ``--model=NAME`` names (refused beside ``--config``,
  whose own get_config() chooses the model)."""
  given = any(a == "--config" or a.startswith("--config=") for a in argv[1:])
  model = None
  for i, arg in enumerate(argv[1:], 1):
    match = _MODEL_FLAG.match(arg)
    if match is not None:
      model = match["value"] if match["value"] is not None else (argv[i + 1:i + 2] or [""])[0]
  if model is not None and given:
    raise ValueError("--model sets the default config's model; with --config=FILE choose "
                     "the model in that file's get_config()")
  if given:
    return argv
  if model:
    from convnets import models
    try:
      models.config(model)
    except ValueError as e:  # else reported as the default config file's error
      raise ValueError(f"--model={model}: {e}") from None
  return [argv[0], f"--config={DEFAULT_CONFIG}" + (f":{model}" if model else ""), *argv[1:]]


def _config_fields(config: ConfigDict, path: str = "") -> list[str]:
  """Every field of ``config``, dotted (``model.pooling``, ...)."""
  fields = []
  for key, value in config.items():
    fields.append(f"{path}{key}")
    if isinstance(value, ConfigDict):
      fields += _config_fields(value, f"{path}{key}.")
  return fields


def _load_config(argv: list[str]) -> ConfigDict:
  """The config ``--config=FILE[:ARG]`` names, without its overrides."""
  spec = next(a.split("=", 1)[1] for a in argv[1:] if a.startswith("--config="))
  path, _, arg = spec.partition(":")
  module_spec = importlib.util.spec_from_file_location("_convnets_config", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(arg) if arg else module.get_config()


def _config_file_error(argv: list[str]) -> str | None:
  """The one-line reason, naming the file (and the line, where the file's own
  code failed), why ``--config=FILE[:ARG]`` gives no config; None if it does.
  config_flags would report these as its own wrapper's message or a traceback."""
  spec = next((a.split("=", 1)[1] for a in argv[1:] if a.startswith("--config=")), None)
  if spec is None:
    return None
  path = spec.partition(":")[0]
  try:
    open(path).close()
  except OSError as e:
    return f"--config={path}: {e.strerror}"
  try:
    config = _load_config(argv)
  except SyntaxError as e:
    return f"--config={path}, line {e.lineno}: invalid Python: {e.msg}"
  except (ValueError, TypeError):
    return None  # a bad value (--model=NAME, FILE:ARG): parse_flags gives its own reason
  except Exception as e:  # noqa: BLE001  (the config file's own code failed)
    lines = [frame.lineno for frame in traceback.extract_tb(e.__traceback__)
             if os.path.abspath(frame.filename) == os.path.abspath(path)]
    if isinstance(e, AttributeError) and e.name == "get_config" and not lines:
      return f"--config={path}: the file defines no get_config()"
    where = f", line {lines[-1]}" if lines else ""
    return f"--config={path}{where}: {type(e).__name__}: {' '.join(str(e).split())}"
  if not isinstance(config, ConfigDict):
    return f"--config={path}: get_config() returned {type(config).__name__}, not a ConfigDict"
  return None


def _unknown_field(argv: list[str]) -> str | None:
  """The one-line reason for the first ``--config.FIELD=`` override of a
  field the config does not have, with close matches; None if all exist
  (or the config itself does not load)."""
  try:
    fields = _config_fields(_load_config(argv))
  except Exception:  # noqa: BLE001  (its own error is reported instead)
    return None
  for arg in argv[1:]:
    match = re.match(r"^--config\.([\w.]+)", arg)
    if match and match[1] not in fields:
      close = difflib.get_close_matches(match[1], fields, n=3)
      hint = f"; did you mean {', '.join(f'--config.{c}' for c in close)}?" if close else ""
      return f"--config.{match[1]}: the config has no such field{hint}"
  return None


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, the config file named (:func:`_with_config_file`),
  and every bad flag, config file or override reported as one ``error:``
  line naming it."""
  try:
    argv = _with_config_file(argv)
    bad_file = _config_file_error(argv)
    if bad_file:
      sys.exit(f"error: {bad_file}")
    rest = FLAGS(argv)
    _CONFIG.value.keys()  # a config file that failed to load raises only when read
    return rest
  except (flags.Error, AttributeError, KeyError, ValueError, TypeError, OSError,
          SyntaxError) as e:
    if isinstance(_root_cause(e), (AttributeError, KeyError)):
      sys.exit(f"error: {_unknown_field(argv) or _root_cause(e)}")
    sys.exit(f"error: {_one_line(e)}")


def _root_cause(e: BaseException) -> BaseException:
  """The exception that started the chain ``e`` ends (``raise ... from None`` ends it)."""
  while True:
    inner = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    if inner is None:
      return e
    e = inner


def _one_line(e: BaseException) -> str:
  """The innermost reason of ``e`` on one line, with the flag it concerns
  (config_flags wraps a config file's own error in its flag's)."""
  root = _root_cause(e)
  flag = str(e).split(":", 1)[0].removeprefix("flag ") if isinstance(e, flags.Error) else ""
  reason = " ".join(str(root).split()) or type(root).__name__
  return f"{flag}: {reason}" if flag and root is not e else reason


def settings(config: ConfigDict) -> Settings:
  """The experiment settings the flags ask for; ``--config.epochs`` given on
  the command line sets every variant's epochs, else each experiment's own."""
  seeds = 1 if FLAGS.quick and not FLAGS["seeds"].present else FLAGS.seeds
  overridden = config_flags.get_override_values(FLAGS["config"])
  return Settings(seeds=tuple(range(config.seed, config.seed + seeds)),
                  epochs=config.epochs if "epochs" in overridden else None,
                  variants=tuple(FLAGS.variants) if FLAGS.variants is not None else None,
                  quick=FLAGS.quick)


def describe(config: ConfigDict) -> str:
  from convnets import describe as describe_lib
  from convnets.models import settings as model_settings
  from convnets.train.pipeline import model_input_shape

  return describe_lib.describe(config.model.name, model_settings(config.model),
                               model_input_shape(config))


def run_experiments(config: ConfigDict, catalogue: Catalogue) -> None:
  """``--experiment``: one, or all of the catalogue's, into ``--workdir``."""
  from convnets.data import load
  from convnets.experiment.runner import run_all, run_experiment
  from convnets.train.workdir import default_workdir

  name = FLAGS.experiment
  if name != ALL and name not in catalogue.NAMES:
    close = difflib.get_close_matches(name, catalogue.NAMES, n=3)
    raise ValueError(f"unknown experiment {name!r}; "
                     + (f"did you mean {', '.join(close)}? " if close else "")
                     + f"known: {', '.join(catalogue.NAMES)}, or {ALL}")
  run_settings = settings(config)
  if run_settings.variants == ():
    raise ValueError("--variants is empty: name one or more variants, or leave it out for all")
  workdir = FLAGS.workdir or default_workdir(f"experiment-{name}")
  data = load(FLAGS.data_dir, source=config.data.source, name=config.data.name,
              download_missing=FLAGS.download, train_size=config.data.train_size)
  common = dict(config=config, data=data, settings=run_settings, overwrite=FLAGS.overwrite,
                resume=FLAGS.resume, launcher=FLAGS.launcher, data_dir=FLAGS.data_dir)
  if name == ALL:
    run_all([catalogue.get(n) for n in catalogue.NAMES], workdir, **common)
  else:
    run_experiment(catalogue.get(name), workdir, **common)


def train_one(config: ConfigDict) -> None:
  """One training run into ``--workdir``; prints its summary line."""
  from convnets.train import train_and_evaluate
  from convnets.train.workdir import default_workdir

  workdir = FLAGS.workdir or default_workdir(config.model.name)
  s = train_and_evaluate(config, workdir, data_dir=FLAGS.data_dir, download=FLAGS.download,
                         overwrite=FLAGS.overwrite)
  if s["status"] != "finished":
    sys.exit(f"error: the run diverged at epoch {s['diverged_epoch']} (its loss is not finite; "
             f"its summary in {workdir} says so): lower config.optimizer.learning_rate")
  print(f"\n{s['model']} ({s['params']:,} parameters), seed {s['seed']}: test accuracy "
        f"{s['test_accuracy']:.4f} (error {100 * s['test_error']:.2f}%), valid accuracy "
        f"{s['valid_accuracy']:.4f}; {s['epochs']} epochs in {s['train_seconds']:.1f}s "
        f"({s['seconds_per_epoch']:.1f}s/epoch, {s['examples_per_second']:,.0f} examples/s, "
        f"{s['compile_seconds']:.1f}s compiling) on {s['platform']}; outputs in {workdir}")


def inspect_run() -> None:
  """``--inspect=WORKDIR``: a finished run's pictures, written into its workdir."""
  from convnets.train import inspection

  written = inspection.inspect(FLAGS.inspect, data_dir=FLAGS.data_dir, download=FLAGS.download)
  print(f"wrote {', '.join(written)} in {FLAGS.inspect}")


def write_report(catalogue: Catalogue) -> None:
  """``--report=OUT``: the hand-in report of ``--topics`` from ``--results``."""
  from convnets.handin import build, sources

  results_dir = FLAGS.results or COMMITTED_RESULTS
  if not os.path.isdir(results_dir):
    raise ValueError(f"--results={results_dir}: no such folder; pass the committed results/ or "
                     "the --workdir of a finished --experiment")
  found = sources.entries(results_dir, {name: catalogue.get(name) for name in catalogue.NAMES})
  chosen = sources.select(found, FLAGS.topics, catalogue.NAMES, results_dir)
  html, pdf = build.build(chosen, FLAGS.report)
  print(f"wrote {html} and {pdf}: {len(chosen)} topic{'s' if len(chosen) > 1 else ''} from "
        f"{results_dir}")


def start_jax() -> None:
  """Join a multi-process job if the environment names one, and set up the
  compilation cache: before anything compiles."""
  from convnets import compilation_cache
  from convnets.runtime import maybe_initialize_distributed

  try:
    maybe_initialize_distributed()
  except ValueError as e:  # inconsistent coordinator settings
    sys.exit(f"error: {e}")
  if FLAGS.compilation_cache:
    compilation_cache.enable()
  else:
    compilation_cache.disable()


def refuse_contradictions() -> None:
  """One ``error:`` line for flags that cannot go together."""
  if FLAGS.overwrite and FLAGS.resume:
    sys.exit("error: --overwrite and --resume contradict each other: --resume keeps what "
             "--workdir holds, --overwrite replaces it; pass one (a single run resumes an "
             "unfinished run in its --workdir by itself)")
  if FLAGS.launcher != LOCAL and not FLAGS.experiment:
    sys.exit(f"error: --launcher={FLAGS.launcher} submits an experiment's runs as jobs; add "
             "--experiment=NAME (one run over several processes needs no launcher flag: "
             "start it on every host with JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and "
             "JAX_PROCESS_ID, or under srun)")


def main(argv: list[str], *, catalogue: Catalogue) -> None:
  """What the flags ask for; anything the user can fix ends as one ``error:`` line."""
  if len(argv) > 1:
    sys.exit(f"error: unexpected arguments: {' '.join(argv[1:])} (flags take the form "
             "--name=value)")
  # JAX logs every backend it probes (no TPU here, ...) at INFO.
  logging.set_verbosity(logging.WARNING)
  from convnets.train.interrupts import Interrupted, exit_code
  start_jax()
  config = _CONFIG.value
  refuse_contradictions()
  try:
    if FLAGS.describe:
      print(describe(config))
    elif FLAGS.inspect is not None:
      inspect_run()
    elif FLAGS.report is not None:
      write_report(catalogue)
    elif FLAGS.experiment:
      run_experiments(config, catalogue)
    else:
      train_one(config)
  except ValueError as e:  # DataError, WorkdirError, ConfigError are ValueErrors
    sys.exit(f"error: {e}")
  except Interrupted as e:
    # An experiment goes on from its finished and checkpointed runs with --resume.
    again = " (with --resume)" if FLAGS.experiment and not FLAGS.resume else ""
    print(f"interrupted: {e}{again}", file=sys.stderr)
    sys.exit(exit_code(e.signum))
  except KeyboardInterrupt:  # before training started, or a second Ctrl-C
    print("interrupted at once: run the same command again (a run that saved a checkpoint "
          "resumes from it)", file=sys.stderr)
    sys.exit(exit_code(signal.SIGINT))

