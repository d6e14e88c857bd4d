"""Training: state, pure steps, optimisers, the epoch loop and run outputs."""

from convnets.train.loop import ConfigError, check_config, train_and_evaluate
from convnets.train.state import TrainState
from convnets.train.step import init_state, make_eval_step, make_train_step

__all__ = ["ConfigError", "TrainState", "check_config", "init_state", "make_eval_step",
           "make_train_step", "train_and_evaluate"]
