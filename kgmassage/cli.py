"""Command line: ``kgmassage query | validate | assess``.

Exit codes: 0 success (validate: conforms), 1 validate found a Violation (assess --strict: a record
does not conform), 2 unreadable input or usage error. Errors are one line on stderr, no traceback.
"""

from __future__ import annotations

import sys

import click

from . import __version__
from .errors import KgMassageError

EXIT_OK, EXIT_NONCONFORMING, EXIT_ERROR = 0, 1, 2


def fail(message: str) -> None:
    """Print ``message`` on stderr and exit 2."""
    click.echo(f"kgmassage: {message}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kgmassage")
def main() -> None:
    """Knee-massage clinical decision support: query the knowledge graph, validate patient
    records, assess which massage interventions are safe."""


# --- query (knowledge base) ---------------------------------------------------------------

# --- validate (patient records) -----------------------------------------------------------

# --- assess (decisions) -------------------------------------------------------------------


def run() -> None:  # pragma: no cover - console entry point wrapper
    try:
        main(standalone_mode=True)
    except KgMassageError as exc:
        fail(str(exc))
