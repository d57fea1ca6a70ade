import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax  # noqa: E402

# float64 must be switchable per call; the library always passes explicit dtypes.
jax.config.update("jax_enable_x64", True)
