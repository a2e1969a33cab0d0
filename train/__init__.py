"""auedge.train: fine-tunes truncated MobileNetV2/ResNet50 backbones for AU occurrence or intensity.

The training stage a user runs: ``data/`` (datasets, importers, the crop cache), ``models.py``,
``trainer.py``, ``config.py`` and the CLI ``python train/train.py`` / ``au-edge-train``
(:func:`auedge.train.train.main`); the recipes in ``configs/`` ship with the package. The tools for
studies (the report's table grid, mix comparisons, per-flag thresholds, scoring a run under pasted
occluders) live apart in :mod:`auedge.train.research`. Needs the ``[train]`` extra (TensorFlow); the
crops it trains on come from :mod:`auedge.edge`, so the device runs what was trained.
"""
