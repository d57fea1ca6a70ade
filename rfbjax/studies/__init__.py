"""Layer 5, studies: the experiments' tables, sweeps and the scaling law, ``reproduce``, the
adversarial search (`rfbjax.studies.attack`) and the training study
(`rfbjax.studies.training`).
"""
