import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# one BLAS thread: XLA already uses the cores, and oversubscribed eigensolvers (exact energy law)
# slow down 10-50x on a small shared machine. Subprocesses started by tests inherit it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import jax  # noqa: E402

# float64 must be switchable per call; the library always passes explicit dtypes.
jax.config.update("jax_enable_x64", True)
