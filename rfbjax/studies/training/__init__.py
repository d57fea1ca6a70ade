"""The training study: does conditioning at initialisation matter once the front end learns?

A strided conv1d front end learns, by knowledge distillation with optax Adam, to imitate a
fixed target filterbank (Parseval-tight or auditory); runs over initialisers, penalties and
seeds log the training and held-out losses and the exact frame bounds along training.

- `rfbjax.studies.training.targets`: the target filterbanks (built here);
- `rfbjax.studies.training.data`: training and held-out excerpts (built-ins or audio files);
- `rfbjax.studies.training.distill`: the closed-form full-batch loss and the vmapped training loop;
- `rfbjax.studies.training.runner`: configurations (``QUICK``, ``FULL``, ``SMALL``) and `run_study`;
- `rfbjax.studies.training.summary`: intervals, paired effects and the report's sentences;
- `rfbjax.studies.training.outputs`: ``study.json``, ``final_weights.npz``, ``report.md``.
"""

from .runner import FULL, QUICK, SMALL, StudyConfig, load_sets, run_study  # noqa: F401
from .outputs import write_outputs  # noqa: F401

__all__ = ["StudyConfig", "QUICK", "FULL", "SMALL", "load_sets", "run_study", "write_outputs"]
