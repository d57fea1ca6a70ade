"""The main job on built-in defaults (what ``make demo`` runs).

Runs ``rfbjax reproduce`` in quick mode when that command exists; otherwise a small
``rfbjax bounds`` + ``rfbjax energy`` run. Prints where the output went.
"""

from __future__ import annotations

import argparse
import os
import sys

from .cli import main as cli_main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rfbjax.demo")
    ap.add_argument("--out", default="out/demo")
    args = ap.parse_args(argv)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    try:
        from .cli import reproduce  # noqa: F401
    except ImportError:
        reproduce = None
    if reproduce is not None:
        rc = cli_main(["reproduce", "--out", out])
        if rc == 0:
            print(f"rfbjax demo: report written to {os.path.join(out, 'report.md')}")
        return rc
    rc = cli_main(["bounds", "--J", "5,10,40", "--T", "8:1024:log2", "--N", "1024",
                   "--samples", "500", "--json", os.path.join(out, "bounds.json")])
    if rc:
        return rc
    rc = cli_main(["energy", "impulse", "brownian", "alternating", "vowel", "flute", "snare",
                   "--J", "10", "--T", "8:1024:log2", "--samples", "500",
                   "--json", os.path.join(out, "energy.json")])
    if rc == 0:
        print(f"rfbjax demo: results written to {out}/bounds.json and {out}/energy.json")
    return rc


if __name__ == "__main__":
    sys.exit(main())
