"""Every notebook in notebooks/ runs top to bottom (small sizes: RFBJAX_NB_SMALL=1).

A notebook that no longer runs against the library fails here. Executed with nbclient on the
``python3`` kernel; each cell has a time limit.
"""

import glob
import os

import pytest

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks",
                                          "*.ipynb")))
CELL_TIMEOUT = 300


def test_notebooks_exist():
    names = {os.path.basename(p) for p in NOTEBOOKS}
    assert {"energy_deviation.ipynb", "frame_bounds_scaling.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("RFBJAX_NB_SMALL", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))   # the notebooks' temporary folders go here
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()   # raises CellExecutionError with the failing cell's traceback
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
