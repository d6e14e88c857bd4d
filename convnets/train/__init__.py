"""Training, by phase: ``checks`` (the config, before anything runs),
``placement`` (devices, several seeds in lockstep), ``pipeline`` (data on the
device, preprocessing, augmentation), ``step`` (the pure jitted steps),
``epochs`` (an epoch, an evaluation), ``records`` (metrics, summary, outputs)
and ``loop`` (``train_and_evaluate``, which runs them in order)."""

from convnets.train.checks import ConfigError, check_config
from convnets.train.loop import train_and_evaluate, train_seeds
from convnets.train.state import TrainState
from convnets.train.step import init_state, make_eval_step, make_train_step

__all__ = ["ConfigError", "TrainState", "check_config", "init_state", "make_eval_step",
           "make_train_step", "train_and_evaluate", "train_seeds"]
