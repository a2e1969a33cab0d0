"""auedge.train.research: tools for studies, apart from the trainer a user runs.

- ``experiments.py``: the report's occlusion tables as a resumable grid of trainings
  (``python -m auedge.train.research.experiments --table 4.2 --dataset synthetic --out experiments/NAME``);
  ``experiment_tables.py`` holds the tables as data.
- ``score_run.py``: a finished run scored under pasted occluders, without training again (T0/V1).
- ``compare_mix.py``: T-mix against per-occluder specialists, from full-length runs.
- ``flag_thresholds.py``: one AU threshold per occlusion-flag state, chosen on validation.

The scripts run as files too (``python train/research/score_run.py ...``); each drops its own folder
from ``sys.path`` first, so only the installed ``auedge.*`` names resolve. They write into
``experiments/`` and run folders, never into what a bundle is made from.
"""
