"""``python -m kgmassage``: the same command line as the ``kgmassage`` console script."""

from __future__ import annotations

from .cli import run

if __name__ == "__main__":
    run()
