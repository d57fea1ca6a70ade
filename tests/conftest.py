import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# one BLAS thread: XLA already uses the cores, and oversubscribed eigensolvers (exact energy law)
# slow down 10-50x on a small shared machine. Subprocesses started by tests inherit it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

# one compilation cache for the whole session (the CLI tests start many processes that compile
# the same programs), never the user's own; removed when the session ends
if "RFBJAX_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="rfbjax-test-cache-")
    os.environ["RFBJAX_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, True)

# notebook kernels, matplotlib and Jupyter keep their state in a session folder, not in $HOME
_state = tempfile.mkdtemp(prefix="rfbjax-test-home-")
atexit.register(shutil.rmtree, _state, True)
for _var, _sub in (("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "matplotlib"),
                   ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("JUPYTER_DATA_DIR", "jupyter-data")):
    os.environ[_var] = os.path.join(_state, _sub)

import jax  # noqa: E402

# float64 must be switchable per call; the library always passes explicit dtypes.
jax.config.update("jax_enable_x64", True)
