"""Typed errors raised by kgmassage; the CLI maps them to messages and exit codes."""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "KgMassageError",
    "RecordError",
    "QueryError",
    "UnknownTermError",
    "NonConformingRecordError",
    "ParameterError",
    "UnknownDecisionError",
    "cut",
    "spelled",
    "visible",
]

#: Longest quoted value shown in a message; longer ones are cut (a record may hold megabytes).
QUOTE_LIMIT = 80


def cut(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis and the full length when cut.

    >>> cut("x" * 100)
    'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx… (100 characters)'
    """
    if len(text) <= limit:
        return text
    return f"{text[: limit - 8]}… ({len(text)} characters)"


#: Bidirectional controls: in a record value shown to people they would reverse or reorder the
#: text after them ("Rub\u202e…" turns the rest of a line around); and characters of no width
#: (zero-width space and joiners, word joiner, soft hyphen, byte order mark), which hide in a
#: word ("Patella\u200b" is no name the knowledge base knows, yet reads as one).
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                   "\u00ad\u200b-\u200d\u2060\ufeff]")


def _code_point(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group(0)):04X}]"


def visible(text: str) -> str:
    """``text`` with each bidirectional control and character of no width shown as its code
    point, for output people read.

    >>> visible("Rub\u202eegassam")
    'Rub[U+202E]egassam'
    """
    return _BIDI.sub(_code_point, text)


def spelled(text: str) -> str:
    """``text`` with every character outside printable ASCII shown as its code point: for a
    value that matched nothing, where a look-alike letter would read as the name it imitates
    (``Pat\u0435lla``, with a Cyrillic e, next to the kneecap's own name).

    >>> spelled("Pat\u0435lla")
    'Pat[U+0435]lla'
    """
    return re.sub(r"[^\x20-\x7e]", _code_point, text)


#: C0 and C1 controls (U+0085 is a line break) and Unicode's line and paragraph separators.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_NAMES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with its line breaks (also U+0085, U+2028, U+2029) and other control
    characters written out, for a line of output people read (a record's value cannot break a
    report's line).

    >>> one_line("p-1\\nRIGHT LEG — every massage permitted")
    'p-1\\\\nRIGHT LEG — every massage permitted'
    """
    return _CONTROLS.sub(
        lambda m: _CONTROL_NAMES.get(m.group(0)) or f"[U+{ord(m.group(0)):04X}]", text)


class KgMassageError(Exception):
    """Base class of every error kgmassage raises on purpose."""


class RecordError(KgMassageError):
    """A patient record cannot be read: names the source and the line or field.

    Args:
        source: file name (or ``"<stdin>"``, ``"<dict>"``) the record came from.
        detail: what is wrong, for a person.
        line: 1-based line number, when known.
        field: JSON path of the offending field (``conditions[2].side``), when known.
    """

    def __init__(
        self, source: str, detail: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        self.source = source
        self.detail = detail
        self.line = line
        self.field = field
        where = source
        if line is not None:
            where += f", line {line}"
        if field:
            where += f", field {field}"
        super().__init__(f"{where}: {detail}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (cohorts cross processes)
        return (_record_error, (self.source, self.detail, self.line, self.field))


def _record_error(source: str, detail: str, line: int | None, field: str | None) -> RecordError:
    return RecordError(source, detail, line=line, field=field)


class QueryError(KgMassageError):
    """A SPARQL query is unknown, unreadable or invalid."""


class UnknownTermError(QueryError, ValueError):
    """A name given to the knowledge base is not one of its terms (e.g. in ``explain_path``)."""


class NonConformingRecordError(KgMassageError):
    """Strict mode refused to assess a record that has SHACL Violations."""


class ParameterError(KgMassageError, ValueError):
    """An argument of the API is not acceptable (an assessment time, an engine, a side)."""


class UnknownDecisionError(KgMassageError, KeyError):
    """The assessment holds no decision on the intervention asked for."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
