"""Command line: ``kgmassage query | validate | assess``.

Exit codes: 0 success (validate: conforms), 1 validate found a Violation (assess --strict: a record
does not conform), 2 unreadable input or usage error. Errors are one line on stderr, no traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from dataclasses import replace
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

import click

from . import __version__
from .errors import KgMassageError, cut, spelled

if TYPE_CHECKING:
    from .engine import EngineName
    from .validation import ValidationReport, ValidationResult

EXIT_OK, EXIT_NONCONFORMING, EXIT_ERROR = 0, 1, 2


def fail(message: str) -> NoReturn:
    """Print ``message`` on stderr and exit 2."""
    click.echo(f"kgmassage: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _parse_at(at: str | None) -> datetime | None:
    """The ``--at`` option as a UTC datetime; a usage error (exit 2) when it does not parse."""
    from .timeline import resolve_at

    if at is None:
        return None
    try:
        return resolve_at(at)
    except ValueError:
        fail(f"--at {at!r} is not an xsd:date or xsd:dateTime (e.g. 2026-11-20, "
             "2026-11-20T10:00:00Z: seconds included)")
        raise  # unreachable: fail() exits


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kgmassage")
def main() -> None:
    """Knee-massage clinical decision support: query the knowledge graph, validate patient
    records, assess which massage interventions are safe."""
    # rdflib logs warnings about odd input ("… does not look like a valid URI") to standard
    # error; the command line reports bad input itself, in one line
    logging.getLogger("rdflib").setLevel(logging.ERROR)
    # and warns of a boolean it cannot read (" false "): validation names it, fail safe
    warnings.filterwarnings("ignore", "Parsing weird boolean", UserWarning, r"rdflib\.")


# --- query (knowledge base) ---------------------------------------------------------------


@main.command("query")
@click.argument("query", required=False, metavar="QUERY")
@click.option(
    "--data", "data", multiple=True, metavar="FILE",
    help="RDF (.ttl, .nt, .rdf/.owl, ...) or patient records (.json, .ndjson) to query together "
    "with the knowledge base; repeatable.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
    show_default=True, help="table for people, csv or json (SPARQL 1.1 result formats).",
)
@click.option(
    "--bind", "binds", multiple=True, metavar="VAR=VALUE",
    help="Bind a query parameter, e.g. --bind technique=Effleurage (a km: local name, an IRI, or "
    "else a plain literal); repeatable.",
)
@click.option(
    "--engine", type=click.Choice(["oxigraph", "rdflib"]), default="oxigraph", show_default=True,
    help="SPARQL engine: oxigraph (fast) or rdflib (some queries take seconds); both give the "
    "same answers.",
)
@click.option("--list", "show_list", is_flag=True, help="List the shipped queries and exit.")
def query_command(
    query: str | None,
    data: tuple[str, ...],
    fmt: str,
    binds: tuple[str, ...],
    engine: str,
    show_list: bool,
) -> None:
    """Run a SPARQL query over the knowledge base (plus any --data).

    QUERY is the name of a shipped query (e.g. muscles-crossing-knee, qc/range-violation; see
    --list), a .rq file, or SPARQL text. Exit 0 with the answer on standard output; 2 when the
    query is unknown or invalid or a --data file cannot be read.
    """
    from .knowledge import KnowledgeBase, list_queries

    if show_list:
        entries = list_queries()
        width = max(len(name) for name, _ in entries)
        for name, summary in entries:
            click.echo(f"{name.ljust(width)}  {summary}".rstrip())
        return
    if query is None:
        fail("give a QUERY (a shipped query name, a .rq file or SPARQL text), or --list")
    bindings: dict[str, str] = {}
    for item in binds:
        name, sep, value = item.partition("=")
        if not sep or not name.strip("?$ "):
            fail(f"--bind {item!r} is not VAR=VALUE")
        bindings[name.strip()] = value
    try:
        result = KnowledgeBase.load().query(
            query, data=list(data) or None, bindings=bindings or None, engine=engine
        )
        text = {"table": result.to_table, "csv": result.to_csv, "json": result.to_json}[fmt]()
    except KgMassageError as exc:
        fail(" ".join(str(exc).split()))
    except MemoryError:
        fail("the answer does not fit in memory: narrow the query or add a LIMIT")
    click.echo(text, nl=not text.endswith("\n"))


# --- validate (patient records) -----------------------------------------------------------


def _shown_value(result: ValidationResult) -> str:
    """The offending value of a validation result as a clinician would write it in JSON."""
    from .namespaces import KM_IRI

    value = result.value
    if value is None or value == result.focus:
        return ""
    if result.path == KM_IRI + "unrecognizedField":
        return value.partition("=")[2]
    if value.startswith(KM_IRI):
        return value[len(KM_IRI):]
    return value if "://" in value or value.startswith("urn:") else f'"{spelled(value)}"'


def _validation_text(report: ValidationReport) -> str:
    """A clinician-readable block for one :class:`~kgmassage.validation.ValidationReport`."""
    who = cut(report.record) if report.record is not None else "record without id"
    where = report.source + (f":{report.line}" if report.line is not None else "")
    counts = [
        f"{n} {name.lower()}{'s' if n != 1 else ''}"
        for name in ("Violation", "Warning", "Info")
        if (n := report.count(name))
    ]
    verdict = "CONFORMS" if report.conforms else "DOES NOT CONFORM"
    lines = [f"{who} — {where} — {verdict}" + (f": {', '.join(counts)}" if counts else "")
             + f" (dates checked against {report.at})"]
    if not report.results:
        lines.append("  No problems found.")
    for result in report.results:
        field_name = result.field or result.path or result.focus
        value = _shown_value(result)
        shown = f" = {value}" if value else ""
        lines.append(f"  {result.severity.upper():<9} {field_name}{shown}")
        lines.append(f"            {result.message}")
    return "\n".join(lines) + "\n"


@main.command("validate")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "turtle", "data-graph"]),
    default="text", show_default=True,
    help="text for people, json (a list of reports), turtle (SHACL reports), or data-graph "
    "(N-Triples: the graph the record shapes check, for another SHACL engine).",
)
@click.option(
    "--at", "at", metavar="DATETIME",
    help="Assessment time to check dates against (xsd:date or xsd:dateTime, e.g. "
    "2026-11-20T10:00:00Z; default: each record's "
    "assessed_at, else now; UTC when no offset is given).",
)
@click.option(
    "--engine", type=click.Choice(["oxigraph", "rdflib"]), default="oxigraph", show_default=True,
    help="oxigraph (record shapes compiled to SPARQL) or rdflib (pySHACL, the reference); "
    "both give the same results.",
)
def validate_command(files: tuple[str, ...], fmt: str, at: str | None, engine: str) -> None:
    """SHACL validation of patient records (JSON, NDJSON, Turtle; - for standard input).

    Exit 0 when every record conforms (warnings allowed), 1 when a record has a Violation,
    2 when an input cannot be read (the other records are still validated and reported).
    """
    import json

    from rdflib import Graph

    from .errors import RecordError
    from .records import iter_records
    from .timeline import resolve_at
    from .validation import validate, validation_data

    when = _parse_at(at)
    unreadable = nonconforming = False
    collected: list[dict[str, object]] = []
    graph = Graph()
    for name in files:
        for item in iter_records(name, at=when):
            try:
                if isinstance(item, RecordError):
                    raise item
                report = validate(item, at=when, engine=cast("EngineName", engine))
            except KgMassageError as exc:
                click.echo(f"kgmassage: {exc}", err=True)
                unreadable = True
                continue
            nonconforming = nonconforming or not report.conforms
            if fmt == "text":
                click.echo(_validation_text(report), nl=False)
            elif fmt == "json":
                collected.append(report.to_dict())
            elif fmt == "data-graph":
                graph += validation_data(item, resolve_at(when, item.assessed_at))
            else:
                graph += report.graph
                for prefix, namespace in report.graph.namespaces():
                    graph.bind(prefix, namespace, override=False)
    if fmt == "json":
        click.echo(json.dumps(collected, indent=2, ensure_ascii=False))
    elif fmt == "turtle":
        click.echo(graph.serialize(format="turtle"), nl=False)
    elif fmt == "data-graph":
        click.echo(graph.serialize(format="nt"), nl=False)
    sys.exit(EXIT_ERROR if unreadable else EXIT_NONCONFORMING if nonconforming else EXIT_OK)


# --- assess (decisions) -------------------------------------------------------------------


@main.command("assess")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--at", "at", metavar="DATETIME",
    help="Assessment time (xsd:date or xsd:dateTime, e.g. 2026-11-20T10:00:00Z; default: each "
    "record's assessed_at, else now; UTC when "
    "no offset is given; a bare date means the start of that day).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "ndjson", "text", "html", "turtle"]),
    default="json", show_default=True,
    help="json (one object, or an array), ndjson (one line per patient, streamed), text (a "
    "report for clinicians), html (one self-contained page with a picture of the legs) or "
    "turtle (decisions as RDF with provenance).",
)
@click.option("--verbose", is_flag=True,
              help="text: also every decision with every reason, lifted ones included.")
@click.option("--out", "out", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write here instead of stdout (- is stdout).")
@click.option("--strict", is_flag=True, help="Refuse records that do not conform (exit 1).")
@click.option(
    "--engine", type=click.Choice(["oxigraph", "rdflib"]), default="oxigraph", show_default=True,
    help="SPARQL engine: oxigraph (fast) or rdflib (reference); both give the same decisions.",
)
@click.option("--endpoint", metavar="URL",
              help="Run on this SPARQL 1.1 server (e.g. http://127.0.0.1:7878 for "
              "`oxigraph serve`) instead of the embedded store.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes to assess with (cohorts: each takes chunks of patients).")
@click.option("--chunk-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Patients per engine run.")
def assess_command(
    files: tuple[str, ...], at: str | None, fmt: str, out: str | None, strict: bool, engine: str,
    endpoint: str | None, jobs: int, chunk_size: int, verbose: bool,
) -> None:
    """Decide, for every intervention (technique x target x side), whether it is permitted,
    needs caution, needs medical clearance, or is forbidden, with reasons.

    FILE is a JSON record, a JSON array, NDJSON (.ndjson, one record per line) or Turtle (.ttl);
    - reads standard input. Exit 0 when every record was assessed, 2 when an input (or one
    line of a cohort) could not be read - the others are still assessed - and 1 when --strict
    refused a non-conforming record.
    """
    import time

    from .cohort import assess_chunks, prepare_process
    from .engine import runner_name
    from .errors import NonConformingRecordError, RecordError
    from .output import to_graph, to_json, to_json_line
    from .records import iter_unread
    from .report import to_html, to_people_text

    try:
        runner = runner_name(engine, endpoint, "--endpoint")
    except KgMassageError as exc:
        fail(str(exc))
    when = _parse_at(at)
    sink = _Sink(out)
    unreadable = refused = False
    done: list[Any] = []
    ids = _Ids()
    progress = fmt == "ndjson" and sys.stderr.isatty()
    render = to_json_line if fmt == "ndjson" else None
    started = time.monotonic()
    try:
        if jobs == 1:
            prepare_process(runner)
        for name in files:
            # the lines of an NDJSON cohort are read where they are assessed (in the workers)
            items = iter_unread(name, at=when)
            for item in assess_chunks(items, at=when, strict=strict, engine=runner,
                                      chunk_size=chunk_size, jobs=jobs, render=render):
                if isinstance(item, RecordError):
                    click.echo(f"kgmassage: {item}", err=True)
                    unreadable = True
                elif isinstance(item, NonConformingRecordError):
                    click.echo(f"kgmassage: {item}", err=True)
                    refused = True
                elif fmt == "ndjson":
                    ids.add(_line_patient(item))
                    sink.write(item + "\n")
                    if progress and sink.count % 100 == 0:
                        _progress(sink.count, started)
                elif fmt == "text":
                    ids.add(item.patient)
                    sink.write(to_people_text(item, verbose=verbose) + "\n")
                else:
                    ids.add(item.patient)
                    done.append(item)
        if fmt == "json" and done:
            sink.write(to_json(done) + "\n")
        elif fmt == "html" and done:
            sink.write(to_html(done))
        elif fmt == "turtle" and done:
            sink.write(to_graph(done).serialize(format="turtle"))
    except BaseException:
        sink.discard()
        raise
    if sink.count:
        sink.close()
    else:
        sink.discard()
    if progress:
        _progress(sink.count, started)  # the final count
        click.echo("", err=True)
    sys.exit(EXIT_ERROR if unreadable else EXIT_NONCONFORMING if refused else EXIT_OK)


class _Ids:
    """Says once on stderr when two assessed records share a patient id (or both have none):
    results joined by id would mix them up."""

    def __init__(self) -> None:
        self.seen: set[str | None] = set()
        self.said: set[str | None] = set()

    def add(self, patient: str | None) -> None:
        if patient in self.seen and patient not in self.said:
            self.said.add(patient)
            what = ("more than one record has no patient id" if patient is None else
                    f"patient id {json.dumps(patient)} is given to more than one record")
            click.echo(f"kgmassage: {what}: each is assessed on its own; do not join the results "
                       "by id", err=True)
        self.seen.add(patient)


def _line_patient(line: str) -> str | None:
    """The patient of an assessment as an NDJSON line (its first key)."""
    value = json.JSONDecoder().raw_decode(line, line.index(":") + 1)[0]
    return value if isinstance(value, str) else None


def _progress(count: int, started: float) -> None:
    """The progress line on a terminal (standard error), written over itself."""
    import time

    rate = count / max(time.monotonic() - started, 1e-9)
    click.echo(f"\rassessed {count:,} patients ({rate:,.0f}/s)", err=True, nl=False)


class _Sink:
    """Where output goes: standard output (no path, or ``-``); a regular file (a symlink's
    target, or a new file) written whole - a temporary file next to it, renamed at the end, so
    an interrupted run leaves nothing half-written; anything else (a FIFO, a device) written
    straight into. A failed write is a one-line error (exit 2)."""

    def __init__(self, path: str | None) -> None:
        import os
        import stat
        import tempfile

        self.path = None if path == "-" else path
        self.count = 0
        self._tmp = ""
        self._file: IO[str] | None = None
        if self.path is None:
            return
        self._target = os.path.realpath(self.path)
        try:
            try:
                regular = stat.S_ISREG(os.stat(self._target).st_mode)
            except FileNotFoundError:
                regular = True
            if regular:
                fd, self._tmp = tempfile.mkstemp(prefix=".kgmassage-",
                                                 dir=os.path.dirname(self._target))
                self._file = os.fdopen(fd, "w", encoding="utf-8")
            else:
                self._file = open(self._target, "w", encoding="utf-8")
        except OSError as exc:
            self._fail(exc)

    def write(self, text: str) -> None:
        """Write ``text`` (one record's worth)."""
        self.count += 1
        if self._file is None:
            click.echo(text, nl=False)
            return
        try:
            self._file.write(text)
        except OSError as exc:
            self._fail(exc)

    def close(self) -> None:
        """Finish: flush, and put a regular file in place."""
        import os

        if self._file is None:
            return
        try:
            self._file.close()
            if self._tmp:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(self._tmp, 0o666 & ~umask)  # as an ordinary file (mkstemp makes 0600)
                os.replace(self._tmp, self._target)
                self._tmp = ""
        except OSError as exc:
            self._fail(exc)

    def discard(self) -> None:
        """Give up: close, and remove the temporary file (if any); safe to call twice."""
        import contextlib
        import os

        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._tmp:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = ""

    def _fail(self, exc: OSError) -> NoReturn:
        self.discard()
        fail(f"cannot write {self.path}: {exc.strerror or exc}")


@main.command("explain")
@click.argument("record", metavar="RECORD")
@click.option("--decision", "decision", required=True, metavar="TECHNIQUE,TARGET,SIDE",
              help="The decision to explain, e.g. Petrissage,VastusLateralis,left (names of the "
              "ontology: local name, label or synonym).")
@click.option("--at", "at", metavar="DATETIME", help="Assessment time (as for assess).")
@click.option("--format", "fmt", type=click.Choice(["svg", "dot", "graphml"]), default="svg",
              show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write here instead of stdout (- is stdout).")
def explain_command(record: str, decision: str, at: str | None, fmt: str,
                    out: str | None) -> None:
    """Draw why one decision is what it is: record item → rule → decision, and the anatomy
    path from the target to the knee joint (e.g. TFL → IT band → knee joint).

    An intervention the record does not plan is decided as asked (as decide() does). Exit 0
    when drawn, 2 when the record cannot be read or --decision is malformed.
    """
    from .assessment import decide
    from .errors import KgMassageError
    from .explain import explanation, to_dot, to_graphml, to_svg

    parts = [p.strip() for p in decision.split(",")]
    if len(parts) != 3 or parts[2] not in ("left", "right"):
        fail(f"--decision wants TECHNIQUE,TARGET,SIDE (SIDE left or right), not {decision!r}")
    technique, target, side = parts
    try:
        decided = decide(record, technique, target, "left" if side == "left" else "right",
                         at=_parse_at(at))
        from .assessment import assess

        assessment = assess(record, at=_parse_at(at))
        if decided not in assessment.decisions:  # an intervention outside the record: decide it
            assessment = replace(assessment, decisions=(*assessment.decisions, decided))
        graph = explanation(assessment, decided.technique, decided.target, decided.side)
    except KgMassageError as exc:
        fail(str(exc))
    text = {"svg": to_svg, "dot": to_dot, "graphml": to_graphml}[fmt](graph)
    sink = _Sink(out)
    sink.write(text)
    sink.close()


@main.command("rules")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown",
              show_default=True)
def rules_command(fmt: str) -> None:
    """List the contraindication rules, generated from their RDF statement (the shapes)."""
    import dataclasses
    import json

    from .rules import rule_infos, rule_table

    if fmt == "json":
        click.echo(json.dumps([dataclasses.asdict(i) for i in rule_infos()], indent=2))
    else:
        click.echo(rule_table(), nl=False)


def run() -> None:  # pragma: no cover - console entry point wrapper
    try:
        main(standalone_mode=True)
    except KgMassageError as exc:
        fail(str(exc))


# --- serve (HTTP service) -----------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; the service has no "
              "authentication: put it behind a gateway before exposing it).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              help="TCP port.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True, help="Server log level (stderr).")
def serve_command(host: str, port: int, log_level: str) -> None:
    """Serve CDS Hooks 2.0 (GET /cds-services), POST /assess and /validate, a read-only
    SPARQL endpoint (/sparql) and the OpenAPI docs (/docs) over HTTP (FastAPI on uvicorn).
    Stop with Ctrl-C.
    """
    import logging

    import uvicorn

    from .service import create_app

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    if host not in ("127.0.0.1", "::1", "localhost"):
        logging.getLogger("kgmassage.service").warning(
            "serving on %s: the service has no authentication; expose it only behind a "
            "gateway that authenticates CDS clients", host)
    uvicorn.run(create_app(), host=host, port=port, log_level=log_level)
