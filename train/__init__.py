"""auedge.train: fine-tunes truncated MobileNetV2/ResNet50 backbones for AU occurrence or intensity.

Entry points: ``python train/train.py`` / ``au-edge-train`` (:func:`auedge.train.train.main`), the
report's tables with ``python -m auedge.train.experiments``, and the occlusion comparisons in
``compare_mix.py`` and ``flag_thresholds.py``. Needs the ``[train]`` extra (TensorFlow); the crops it
trains on come from :mod:`auedge.edge`, so the device runs what was trained. The recipes in
``configs/`` ship with the package.
"""
