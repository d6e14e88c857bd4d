"""A strong single model, assembled from what the coursework experiments test.

* A wider two-layer ConvNet (the registered ``convnet`` with more maps):
  32 then 64 maps of 5x5, "SAME" padding, 2x2 max-pooling after each
  (28 -> 14 -> 7), 256 hidden units, 10 outputs; 858,090 parameters.
* Batch normalisation after every convolution and the hidden layer
  (``experiments/batch_norm.py``); dropout 0.3 on the hidden units
  (``experiments/regularisation.py``).
* Affine distortions of every training digit, drawn afresh each step, in
  LeCun et al. 1998's ranges (``experiments/augmentation.py``).
* Adam with one epoch of linear warm-up, then a cosine decay to zero, 50 epochs.
  Early stopping is off: the last epoch is the one the schedule ends on.

Its committed runs and their errors are in ``results/best/``;
``experiments/best_search.py`` trains single changes to it. Run it with

  python run_experiment.py --config=convnets/configs/best.py --workdir=runs/best

(``--config.epochs=N`` to shorten it; ``--config.data.train_subset=2000
--config.epochs=3`` for a smoke run).
"""

from typing import Any

from ml_collections import ConfigDict

from convnets.configs import default, set_dotted

# What this configuration changes in the default one, as dotted keys;
# experiments/best_search.py trains its candidates as changes to these.
SETTINGS: dict[str, Any] = {
    "model.name": "convnet",
    "model.conv_features": (32, 64),
    "model.kernel_size": 5,
    "model.padding": "SAME",
    "model.hidden": (256,),
    "model.batch_norm": True,
    "model.dropout": 0.3,
    "augment.name": "affine",
    "optimizer.name": "adam",
    "optimizer.learning_rate": 2e-3,
    "optimizer.schedule": "cosine",
    "optimizer.warmup_epochs": 1.0,
}
EPOCHS = 50


def get_config() -> ConfigDict:
  return set_dotted(default.get_config(), {**SETTINGS, "epochs": EPOCHS})
