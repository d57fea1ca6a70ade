"""Layer 5, studies: the experiments' tables, sweeps and the scaling law, ``reproduce``, the
adversarial search (:mod:`rfbjax.studies.attack`) and the training study
(:mod:`rfbjax.studies.training`).
"""
