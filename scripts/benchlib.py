"""Small helpers shared by the benchmark scripts: machine info and writing results."""

from __future__ import annotations

import json
import os
import time


def machine_info() -> dict:
    """Date, JAX backend and device, CPU count, JAX version."""
    import jax

    return {"date": time.strftime("%Y-%m-%d"), "backend": jax.default_backend(),
            "device": str(jax.devices()[0].device_kind), "cpus": os.cpu_count(),
            "jax": jax.__version__}


def save_results(path: str | None, info: dict, rows: list) -> None:
    """Write ``{"info": ..., "rows": ...}`` as JSON to ``path`` (nothing when path is None)."""
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"info": info, "rows": rows}, f, indent=2)
