"""Layer 0, the base: errors aside (``rfbjax.errors``), memory sizes, the grid spelling, the one
atomic writer and the version. Pure Python; nothing here imports NumPy or JAX at import time.
"""
