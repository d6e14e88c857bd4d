"""The main job: the lecture's simple ConvNet on MNIST, to >= 99% test accuracy.

Every hyperparameter of a run lives here, in sections (big_vision's configs
are the model): ``model`` (its ``name`` and that model's own settings),
``data``, ``augment``, ``optimizer``, ``loss``, then the training loop's own
fields. Flags override single fields, e.g.
``python run_experiment.py --config.epochs=20 --config.model.activation=sigmoid``;
``get_config("lenet5")`` (``--model=lenet5``) starts from another model.
"""

from ml_collections import ConfigDict

from convnets import models


def get_config(model: str = "convnet") -> ConfigDict:
  config = ConfigDict()
  # ``name`` and every setting of that model at its default; see
  # ``python run_experiment.py --model=NAME --describe``.
  config.model = models.config(model)

  config.data = ConfigDict()
  # "mnist", "fashion_mnist" (IDX files) or "tfds:NAME", any tensorflow-datasets
  # image classification set (colour too); see convnets.data.mnist.
  config.data.name = "mnist"
  config.data.source = "idx"          # "idx" (IDX .gz files) or "tfds"
  config.data.train_size = 50_000     # the rest of the 60k training set validates
  config.data.train_subset = 0        # > 0: train on only the first N examples (quick runs)
  # "auto": the preprocessing the model is registered with (the input size it
  # takes); else see convnets.data.preprocessing.names().
  config.data.preprocess = "auto"

  config.augment = ConfigDict()
  config.augment.name = "shift"       # see convnets.data.augment.AUGMENTATIONS
  config.augment.shift_pixels = 2     # random translations of up to +-2 pixels
  # "affine": each uniform in [-r, r] (scale in [1 - r, 1 + r]); see
  # convnets.data.augment.AffineRanges. LeCun et al. 1998's "[dist]" sets used
  # translation, scaling, squeezing and horizontal shear, no rotation.
  config.augment.affine = ConfigDict(dict(
      rotation_degrees=0.0, scale=0.1, squeeze=0.1, shear=0.2, translate_pixels=2.0))
  # "elastic": Simard, Steinkraus & Platt 2003's values for MNIST.
  config.augment.elastic = ConfigDict(dict(alpha=34.0, sigma=4.0))

  config.optimizer = ConfigDict()
  config.optimizer.name = "adam"      # see convnets.train.optim.OPTIMIZERS
  config.optimizer.learning_rate = 2e-3
  config.optimizer.momentum = 0.9     # for momentum / nesterov
  config.optimizer.weight_decay = 0.0  # decoupled (adamw-style) for adam, L2 for sgd
  config.optimizer.schedule = "cosine"  # see convnets.train.optim.SCHEDULES
  config.optimizer.warmup_epochs = 0.0

  config.loss = ConfigDict()
  # Penalties added to the training loss, on weights (kernels) only:
  # l1 * sum |w| + l2 * 1/2 sum w^2 (see convnets.ops.regularisers).
  config.loss.l1 = 0.0
  config.loss.l2 = 0.0
  # > 0: train against targets (1 - e) one-hot + e / 10 (Szegedy et al. 2016).
  config.loss.label_smoothing = 0.0

  config.epochs = 12
  config.batch_size = 128
  config.eval_batch_size = 1000
  # > 0: stop when the validation error has not improved for this many
  # epochs and restore the best epoch's variables (0 = train all epochs).
  config.early_stopping_patience = 0
  config.loop = "auto"                # "python" (one jit call per step), "scan" (one per epoch)
  # Orbax checkpoints of the whole train state, to resume an interrupted run:
  # after every epoch, and within an epoch (config.loop="python") once this
  # many minutes have passed since the last; the last `keep` are kept.
  config.checkpoint = ConfigDict(dict(every_minutes=10.0, keep=2, asynchronous=True))
  # TensorBoard event files in WORKDIR/tensorboard/ (tensorboardX, no TensorFlow):
  # each epoch's scalars and the curves; `tensorboard --logdir=runs/` compares runs.
  config.tensorboard = True
  # After the summary, each run's confusion matrix, misclassified gallery, and
  # first-layer kernels and feature maps (convnets/train/inspection.py).
  config.pictures = True
  config.num_devices = 0              # data parallelism over this many devices (0 = all)
  config.test_every_epoch = False     # record test accuracy per epoch (time-to-accuracy only)
  config.seed = 0

  # Where --launcher=submitit trains an experiment's runs: a job array, each
  # job training runs_per_job of the variant x seed runs into the shared
  # workdir (convnets.experiment.launch). Not compared when runs resume.
  config.cluster = ConfigDict()
  config.cluster.executor = "slurm"   # "slurm", "local" (subprocesses here), "debug" (in-process)
  config.cluster.partition = ""       # SLURM partition ("" = the cluster's default)
  config.cluster.account = ""         # SLURM account ("" = the user's default)
  config.cluster.gpus_per_job = 0
  config.cluster.cpus_per_job = 2
  config.cluster.mem_gb = 0           # 0 = the partition's default
  config.cluster.time_limit_minutes = 60  # a job cut short is requeued and resumes its checkpoint
  config.cluster.runs_per_job = 1
  config.cluster.max_parallel = 0     # jobs of the array running at once (0 = no limit)
  config.cluster.folder = ""          # submitit's logs and pickles ("" = WORKDIR/submitit)
  config.cluster.wait = True          # wait for the jobs, then report (else --resume later)
  return config
