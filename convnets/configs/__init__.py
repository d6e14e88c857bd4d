"""Python config files (ml_collections), overridable as ``--config.NAME=VALUE``."""
