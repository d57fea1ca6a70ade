"""Parseval conv1d layers for Equinox (`rfbjax.layers.equinox`) and Flax NNX
(`rfbjax.layers.flax`): thin modules over `rfbjax.parseval_init` and `rfbjax.parseval_kernel`.
Each needs its framework (``pip install rfbjax[equinox]`` or ``rfbjax[flax]``)."""
