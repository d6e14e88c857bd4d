"""The main job: the lecture's simple ConvNet on MNIST, to >= 99% test accuracy.

Every hyperparameter of a run lives here; flags override single fields, e.g.
``python run_experiment.py --config.epochs=20 --config.model_kwargs.activation=sigmoid``.
"""

from ml_collections import ConfigDict, config_dict

from convnets import models


def model_kwargs_placeholders() -> ConfigDict:
  """A typed None field for each hyperparameter of any registered model, so
  that command-line overrides reach every model (ml_collections only lets
  flags set fields that exist)."""
  fields = {}
  for name in models.names():
    for key, default in models.hyperparameters(name).items():
      kind = type(default)
      if default is None or isinstance(default, (list, tuple)):
        kind = object  # tuples and optional ints: parsed as Python literals
      fields.setdefault(key, config_dict.placeholder(kind))
  return ConfigDict(fields)


def get_config() -> ConfigDict:
  config = ConfigDict()
  config.model = "convnet"
  # Every registered model's hyperparameters, all None: None leaves the
  # model's own default (``python run_experiment.py --model=NAME --describe``
  # lists them); set one as --config.model_kwargs.NAME=VALUE.
  config.model_kwargs = model_kwargs_placeholders()

  config.data_source = "idx"       # "idx" (IDX .gz files) or "tfds"
  config.train_size = 50_000       # the rest of the 60k training set validates
  config.train_subset = 0          # > 0: train on only the first N examples (quick runs)
  config.preprocess = "scale"      # see convnets.data.preprocessing.names()
  config.augment = "shift"         # see convnets.data.augment.AUGMENTATIONS
  config.shift_pixels = 2          # random translations of up to +-2 pixels
  # "affine": each uniform in [-r, r] (scale in [1 - r, 1 + r]); see
  # convnets.data.augment.AffineRanges. LeCun et al. 1998's "[dist]" sets used
  # translation, scaling, squeezing and horizontal shear, no rotation.
  config.affine_rotation_degrees = 0.0
  config.affine_scale = 0.1
  config.affine_squeeze = 0.1
  config.affine_shear = 0.2
  config.affine_translate_pixels = 2.0
  # "elastic": Simard, Steinkraus & Platt 2003's values for MNIST.
  config.elastic_alpha = 34.0
  config.elastic_sigma = 4.0

  config.epochs = 12
  config.batch_size = 128
  config.eval_batch_size = 1000
  config.optimizer = "adam"        # see convnets.train.optim.OPTIMIZERS
  config.learning_rate = 2e-3
  config.momentum = 0.9            # for momentum / nesterov
  config.weight_decay = 0.0        # decoupled (adamw-style) for adam, L2 for sgd
  # Penalties added to the training loss, on weights (kernels) only:
  # l1 * sum |w| + l2 * 1/2 sum w^2 (see convnets.ops.regularisers).
  config.l1 = 0.0
  config.l2 = 0.0
  # > 0: train against targets (1 - e) one-hot + e / 10 (Szegedy et al. 2016).
  config.label_smoothing = 0.0
  # > 0: stop when the validation error has not improved for this many
  # epochs and restore the best epoch's variables (0 = train all epochs).
  config.early_stopping_patience = 0
  config.schedule = "cosine"       # see convnets.train.optim.SCHEDULES
  config.warmup_epochs = 0.0
  config.loop = "auto"             # "python" (one jit call per step), "scan" (one per epoch)
  config.num_devices = 0           # data parallelism over this many devices (0 = all)
  config.test_every_epoch = False  # record test accuracy per epoch (time-to-accuracy only)

  config.seed = 0
  return config
