"""Compile the record shapes (SHACL) to set-at-a-time SPARQL 1.1 SELECT queries.

pySHACL validates one record at a time and is the reference. For cohorts the same shapes run as
plain SPARQL over one store (pyoxigraph) that holds the knowledge base plus the records of many
patients at once: :func:`compile_shapes` turns every constraint of every targeted shape into one
SELECT whose rows are pySHACL's validation results for *all* focus nodes together.

Every query projects ``?focus ?path ?value`` (``?path`` / ``?value`` unbound where pySHACL reports
none) and, for a SHACL-SPARQL constraint, the other variables its ``SELECT`` projects, which
:func:`message_for` substitutes into the message as pySHACL does. The queries reproduce pySHACL's
semantics (run with ``inference="none"``, ``advanced=True``), including its quirks:

* targets: ``sh:targetClass`` (instances of the class and of its ``rdfs:subClassOf*``
  subclasses in the data graph), ``sh:targetNode``, ``sh:targetSubjectsOf``,
  ``sh:targetObjectsOf``, implicit class targets, and SHACL-AF ``sh:SPARQLTarget``;
* ``sh:minCount`` / ``sh:maxCount`` give one result per focus node, without ``sh:value``;
  value constraints give one result per failing value node, with it as ``sh:value``;
* ``sh:datatype`` fails an ill-typed literal as rdflib judges it (``Literal.ill_typed``):
  ``xsd:boolean`` accepts exactly ``true``, ``false``, ``1``, ``0``; ``xsd:string`` accepts
  any literal without language tag whose datatype is ``xsd:string``;
* ``sh:minLength`` measures ``STR()`` of literals and IRIs; a blank node always fails;
* ``sh:closed`` gives one result per offending triple (path = predicate, value = object);
* a result's ``sh:resultPath`` is the shape's path, or the predicate (closed shapes), or the
  ``?path`` of a SHACL-SPARQL row; for a SHACL-SPARQL constraint on a node shape an unbound
  ``?value`` is the focus node;
* a SHACL-SPARQL constraint sees ``$this`` pre-bound everywhere, also inside a ``BIND`` of a
  ``UNION`` branch (rdflib's ``initBindings``): the compiled query joins the focus nodes into
  every group that uses ``$this`` in an expression;
* ``REPLACE`` follows rdflib (a Python ``re.sub`` template, ``$1`` meaning ``\\1``): its
  constant replacement is rewritten to oxigraph's template syntax so that both agree.

Anything the compiler does not implement raises :class:`UnsupportedShapeError` rather than being
skipped, so that a new shape cannot silently go unchecked.

Known difference that no query can remove: oxigraph stores literals of the XSD value types in
canonical form (``"2026-11-20T10:00:00+00:00"^^xsd:dateTime`` comes back as ``…Z``,
``"1"^^xsd:boolean`` as ``"true"``), so such a value is reported (and put into a message) in
canonical form, and two literals equal in value count once for ``sh:maxCount``.

>>> from rdflib import Graph
>>> shapes = Graph().parse(format="turtle", data='''
... @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
... ex:Named a sh:PropertyShape ; sh:targetClass ex:Person ; sh:path ex:name ; sh:minCount 1 ;
...     sh:message "A person has a name." .''')
>>> [(c.shape, c.severity) for c in compile_shapes(shapes)]
[('http://example.org/Named', 'Violation')]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib import term as rdflib_term
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD

from .errors import KgMassageError

__all__ = [
    "CompiledShape",
    "UnsupportedShapeError",
    "OUTPUT_VARIABLES",
    "compile_shapes",
    "message_for",
]

logger = logging.getLogger(__name__)

#: The variables every compiled query projects (first), in this order.
OUTPUT_VARIABLES = ("focus", "path", "value")

_SEVERITIES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}
#: Prefix of the compiler's own variables; a shape's SPARQL must not use it.
_OWN = "ksq_"


class UnsupportedShapeError(KgMassageError, ValueError):
    """A shape uses a SHACL construct that :func:`compile_shapes` does not implement."""


@dataclass(frozen=True)
class CompiledShape:
    """One constraint of one shape, as a SPARQL SELECT over the data graph.

    Attributes:
        shape: the shape (IRI, or ``_:id`` for a blank node) that pySHACL reports as
            ``sh:sourceShape``.
        severity: ``"Violation"``, ``"Warning"`` or ``"Info"``.
        message: the shape's ``sh:message`` (a template for SHACL-SPARQL constraints, see
            :func:`message_for`).
        query: a SPARQL 1.1 SELECT projecting ``?focus ?path ?value`` and the message
            variables; one row per validation result.
        variables: for a SHACL-SPARQL constraint, the variables substituted into the message
            (``{?name}`` / ``{$name}``), in pySHACL's order; empty for core constraints, whose
            message is used as it is.
    """

    shape: str
    severity: str
    message: str
    query: str
    variables: tuple[str, ...] = ()


def message_for(compiled: CompiledShape, row: Mapping[str, Any] | Any) -> str:
    """The result message of one row of ``compiled.query``, as pySHACL words it.

    ``row`` is a pyoxigraph ``QuerySolution`` or a mapping from variable name to RDF term
    (rdflib or pyoxigraph). Each bound variable of ``compiled.variables`` is put into the
    template with :func:`re.sub`, as pySHACL does (so backslashes in a value are template
    escapes; ``this`` is the focus node). A value that is no valid template (``19\\11``, where
    pySHACL stops) is put in as written.
    """
    message = compiled.message
    for name in compiled.variables:
        value = _row_value(row, "focus" if name == "this" else name)
        if value is None:
            continue
        text = _term_text(value)
        try:
            message = re.sub(f"{{[?$]{name}}}", text, message)
        except re.error:
            message = message.replace(f"{{?{name}}}", text).replace(f"{{${name}}}", text)
    return message


def _row_value(row: Mapping[str, Any] | Any, name: str) -> Any:
    try:
        return row[name]
    except (KeyError, IndexError, TypeError):
        return None


def _term_text(term: Any) -> str:
    """``str()`` of an rdflib term (IRI, lexical form, blank node id), also for pyoxigraph."""
    if isinstance(term, str):  # rdflib terms are str
        return str(term)
    value = getattr(term, "value", None)
    return str(value) if value is not None else str(term)


# --- SPARQL text: terms, paths --------------------------------------------------------------

_IRI_OK = re.compile(r'^[^<>"{}|^`\\\x00-\x20]*$')


def _iri(node: URIRef) -> str:
    if not _IRI_OK.match(str(node)):
        raise UnsupportedShapeError(f"IRI cannot be written in SPARQL: {node!r}")
    return f"<{node}>"


def _string(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def _term(node: Any) -> str:
    if isinstance(node, URIRef):
        return _iri(node)
    if isinstance(node, Literal):
        if node.language:
            return f"{_string(str(node))}@{node.language}"
        if node.datatype is not None:
            return f"{_string(str(node))}^^{_iri(node.datatype)}"
        return _string(str(node))
    raise UnsupportedShapeError(f"a blank node cannot be a constant of a query: {node!r}")


def _terms(nodes: Iterable[Any]) -> str:
    """The SPARQL terms of ``nodes``, sorted, space-separated."""
    return " ".join(sorted(_term(node) for node in nodes))


def _node_name(node: Any) -> str:
    return f"_:{node}" if isinstance(node, BNode) else str(node)


# --- the shapes graph -----------------------------------------------------------------------

_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)
_METADATA = (
    SH.name, SH.description, SH.message, SH.severity, SH.order, SH.group, SH.deactivated,
    SH.defaultValue,
)
#: Constraint parameters this compiler implements.
_CONSTRAINTS = (
    SH.minCount, SH.maxCount, SH.datatype, SH.minLength, SH["in"], SH["class"], SH.nodeKind,
    SH["or"], SH.hasValue, SH.closed, SH.ignoredProperties, SH.sparql,
)
_ALLOWED = frozenset((*_TARGETS, *_METADATA, *_CONSTRAINTS, SH.path, SH.property))
#: Whatever makes pySHACL (advanced mode) do more than validate: refused.
_UNSUPPORTED_TYPES = (
    SH.ConstraintComponent, SH.SPARQLFunction, SH.Function, SH.SPARQLTargetType, SH.TargetType,
    SH.SPARQLRule, SH.TripleRule, SH.JSConstraint, SH.JSTarget, SH.JSFunction, SH.JSRule,
)
_UNSUPPORTED_PREDICATES = (SH.rule, SH.entailment, SH.parameter)


def _one(graph: Graph, node: Any, pred: URIRef, what: str) -> Any:
    values = list(graph.objects(node, pred))
    if len(values) > 1:
        raise UnsupportedShapeError(f"{what} {_node_name(node)} has more than one {pred.n3()}")
    return values[0] if values else None


def _int(graph: Graph, node: Any, pred: URIRef) -> int:
    value = _one(graph, node, pred, "shape")
    if not isinstance(value, Literal) or not isinstance(value.value, int) or value.value < 0:
        raise UnsupportedShapeError(f"{pred.n3()} of {_node_name(node)} is not an integer >= 0")
    return int(value.value)


def _shapes(graph: Graph) -> set[Any]:
    """The nodes pySHACL treats as shapes (ShapesGraph._build_node_shape_cache)."""
    found = set(graph.subjects(RDF.type, SH.NodeShape)) | set(
        graph.subjects(RDF.type, SH.PropertyShape)
    )
    for pred in (SH.targetClass, SH.targetNode, SH.targetObjectsOf, SH.targetSubjectsOf,
                 SH.property, SH.node):
        found.update(graph.subjects(pred, None))
    for pred in (SH.property, SH.node, SH["not"], SH.qualifiedValueShape):
        found.update(graph.objects(None, pred))
    for pred in (SH["and"], SH["or"], SH.xone):
        for members in graph.objects(None, pred):
            found.update(graph.items(members))
    return found


def _check_graph(graph: Graph) -> None:
    for kind in _UNSUPPORTED_TYPES:
        for node in graph.subjects(RDF.type, kind):
            raise UnsupportedShapeError(f"{kind.n3()} {_node_name(node)} is not supported")
    for pred in _UNSUPPORTED_PREDICATES:
        for node in graph.subjects(pred, None):
            raise UnsupportedShapeError(f"{pred.n3()} on {_node_name(node)} is not supported")


def _check_node(graph: Graph, node: Any, allowed: Iterable[URIRef], what: str) -> None:
    allowed = frozenset(allowed)
    for pred in set(graph.predicates(node, None)):
        if str(pred).startswith(str(SH)) and pred not in allowed:
            raise UnsupportedShapeError(
                f"{what} {_node_name(node)}: {pred.n3()} is not supported by the SPARQL compiler"
            )


def _deactivated(graph: Graph, node: Any) -> bool:
    value = _one(graph, node, SH.deactivated, "shape")
    return bool(value.value) if isinstance(value, Literal) else False


def _has_constraints(graph: Graph, node: Any) -> bool:
    return any(p in _CONSTRAINTS for p in graph.predicates(node, None))


def _implicit_class(graph: Graph, node: Any) -> bool:
    classes = set(graph.subjects(RDFS.subClassOf, RDFS.Class)) | {RDFS.Class}
    return any(t in classes for t in graph.objects(node, RDF.type))


# --- SPARQL text of the shapes: a small tokenizer -------------------------------------------

_TOKEN = re.compile(
    r'(?P<ws>\s+)'
    r'|(?P<comment>#[^\n]*)'
    r'|(?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\''
    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')'
    r'|(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)'
    r'|(?P<var>[?$][A-Za-z0-9_\u00b7\u00c0-\uffff]+)'
    r'|(?P<bnode>_:[\w\-.]*)'
    r'|(?P<pname>(?:[A-Za-z][\w\-.]*)?:(?:[\w\-%:]|\.(?=[\w\-%:]))*)'
    r'|(?P<word>[A-Za-z_]\w*)'
    r'|(?P<number>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)'
    r'|(?P<punct>\^\^|&&|\|\||!=|<=|>=|.)',
    re.S,
)


@dataclass
class _Tok:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def _tokens(text: str) -> list[_Tok]:
    out = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        out.append(_Tok(kind, match.group()))
    return out


def _significant(tokens: list[_Tok]) -> list[int]:
    return [i for i, t in enumerate(tokens) if t.kind not in ("ws", "comment")]


def _text(tokens: Iterable[_Tok]) -> str:
    return "".join(t.text for t in tokens)


_SPARQL_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'",
                   "\\": "\\"}


def _string_value(token: _Tok) -> str:
    text = token.text
    body = text[3:-3] if text[:3] in ('"""', "'''") else text[1:-1]
    return re.sub(r"\\(.)", lambda m: _SPARQL_ESCAPES.get(m.group(1), m.group()), body, flags=re.S)


_PY_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
               "\\": "\\"}


def _oxigraph_replacement(value: str) -> str:
    """The oxigraph replacement template doing what rdflib does with ``value``.

    rdflib turns ``$n`` into ``\\n`` and hands the result to :func:`re.sub` as a Python
    template; oxigraph takes a Rust ``regex`` template (``$$`` for ``$``, ``${n}`` for a group,
    backslashes literal).
    """
    template = re.sub("\\$([0-9]*)", r"\\\1", value)
    out: list[str] = []
    i = 0
    while i < len(template):
        char = template[i]
        if char != "\\":
            out.append("$$" if char == "$" else char)
            i += 1
            continue
        if i + 1 >= len(template):
            raise UnsupportedShapeError(f"REPLACE replacement ends with a backslash: {value!r}")
        nxt = template[i + 1]
        group = re.match(r"g<([0-9]+)>", template[i + 1:])
        digits = re.match(r"[1-9][0-9]?", template[i + 1:])
        if group:
            out.append("${" + group.group(1) + "}")
            i += 1 + len(group.group())
        elif digits:
            if i + 1 + len(digits.group()) < len(template) and template[
                i + 1 + len(digits.group())
            ].isdigit():
                raise UnsupportedShapeError(f"REPLACE replacement {value!r}: ambiguous escape")
            out.append("${" + digits.group() + "}")
            i += 1 + len(digits.group())
        elif nxt in _PY_ESCAPES:
            out.append(_PY_ESCAPES[nxt])
            i += 2
        elif nxt.isascii() and (nxt.isalpha() or nxt == "0"):
            raise UnsupportedShapeError(f"REPLACE replacement {value!r}: escape \\{nxt}")
        else:
            out.append("\\" + nxt)
            i += 2
    return "".join(out)


class _Sparql:
    """The SPARQL text of one sh:select, checked and rewritten for the compiled query."""

    def __init__(self, text: str, where: str, prefixes: Mapping[str, str]) -> None:
        self.where = where
        self.tokens = _tokens(text)
        self._check(prefixes)
        self._rewrite_replace()

    def fail(self, what: str) -> UnsupportedShapeError:
        return UnsupportedShapeError(f"{self.where}: {what}")

    def _check(self, prefixes: Mapping[str, str]) -> None:
        for tok in self.tokens:
            if tok.kind == "word" and tok.upper in ("PREFIX", "BASE", "SERVICE", "GRAPH", "FROM"):
                raise self.fail(f"{tok.upper} is not supported")
            if tok.kind == "comment":
                tok.kind, tok.text = "ws", " "
            if tok.kind == "var":
                tok.text = "?" + tok.text[1:]
                if tok.text[1:].startswith(_OWN):
                    raise self.fail(f"variable names starting with {_OWN} are reserved")
            if tok.kind == "pname":
                prefix = tok.text.partition(":")[0]
                if prefix not in prefixes:
                    raise self.fail(f"prefix {prefix!r} is not declared (sh:prefixes)")

    def _rewrite_replace(self) -> None:
        sig = _significant(self.tokens)
        for pos, index in enumerate(sig):
            if self.tokens[index].upper != "REPLACE":
                continue
            if pos + 1 >= len(sig) or self.tokens[sig[pos + 1]].text != "(":
                raise self.fail("REPLACE without arguments")
            args: list[list[int]] = [[]]
            depth = 0
            for k in sig[pos + 1:]:
                text = self.tokens[k].text
                if text == "(":
                    depth += 1
                    if depth == 1:
                        continue
                elif text == ")":
                    depth -= 1
                    if depth == 0:
                        break
                if depth == 1 and text == ",":
                    args.append([])
                    continue
                args[-1].append(k)
            if len(args) not in (3, 4):
                raise self.fail("REPLACE takes 3 or 4 arguments")
            replacement = args[2]
            if len(replacement) != 1 or self.tokens[replacement[0]].kind != "string":
                raise self.fail("REPLACE needs a constant string as its replacement")
            if len(args) == 4:
                flags = args[3]
                if len(flags) != 1 or self.tokens[flags[0]].kind != "string" or set(
                    _string_value(self.tokens[flags[0]])
                ) - set("ism"):
                    raise self.fail("REPLACE flags other than a constant of i, s, m")
            tok = self.tokens[replacement[0]]
            tok.text = _string(_oxigraph_replacement(_string_value(tok)))

    def select(self) -> tuple[list[str], int, int]:
        """(projected variable names, index of the body's "{", index of its "}")."""
        sig = _significant(self.tokens)
        if not sig or self.tokens[sig[0]].upper != "SELECT":
            raise self.fail("sh:select must be a SELECT query")
        names: list[str] = []
        pos = 1
        if pos < len(sig) and self.tokens[sig[pos]].upper in ("DISTINCT", "REDUCED"):
            pos += 1
        while pos < len(sig):
            tok = self.tokens[sig[pos]]
            if tok.kind == "var":
                names.append(tok.text[1:])
            elif tok.upper == "WHERE" or tok.text == "{":
                break
            else:
                raise self.fail(f"projection {tok.text!r} is not supported (variables only)")
            pos += 1
        if pos < len(sig) and self.tokens[sig[pos]].upper == "WHERE":
            pos += 1
        if pos >= len(sig) or self.tokens[sig[pos]].text != "{":
            raise self.fail("no WHERE group")
        open_index = sig[pos]
        close_index = self._matching(open_index)
        for k in sig:
            if k > close_index:
                tok = self.tokens[k]
                if tok.upper in ("ORDER", "BY", "ASC", "DESC") or tok.kind == "var" or (
                    tok.text in "()"
                ):
                    continue
                raise self.fail(f"solution modifier {tok.text!r} is not supported")
        return names, open_index, close_index

    def _matching(self, open_index: int) -> int:
        depth = 0
        for k in range(open_index, len(self.tokens)):
            if self.tokens[k].kind != "punct":
                continue
            if self.tokens[k].text == "{":
                depth += 1
            elif self.tokens[k].text == "}":
                depth -= 1
                if depth == 0:
                    return k
        raise self.fail("unbalanced braces")

    def rewrite_groups(self, start: int, end: int, focus: str | None = None) -> None:
        """Rewrite the groups nested in the body (start, end): each UNION branch becomes a
        sub-SELECT (oxigraph then evaluates it on its own instead of planning it into the
        enclosing join, which can be very slow), and, with ``focus``, the focus nodes are
        joined into every group that uses ``?this`` in an expression (pre-binding)."""
        groups = self.groups(start, end)
        sig = _significant(self.tokens)
        order = {index: pos for pos, index in enumerate(sig)}
        for opened, closed, in_exists in groups:
            if in_exists:
                continue
            before = sig[order[opened] - 1] if order[opened] > 0 else None
            after = sig[order[closed] + 1] if order[closed] + 1 < len(sig) else None
            union = any(
                k is not None and self.tokens[k].upper == "UNION" for k in (before, after)
            )
            # joining the focus nodes into a group that mentions ?this changes no result (the
            # whole body is joined with them); it is needed where ?this is used in an expression
            inject = focus is not None and self._uses_this(opened, closed, groups)
            if union:
                self.tokens[opened].text += " SELECT * WHERE {"
                self.tokens[closed].text += " }"
            if inject:
                self.tokens[opened].text += f" {focus} "

    def _uses_this(self, opened: int, closed: int, groups: list[tuple[int, int, bool]]) -> bool:
        """Whether the group uses ?this in an expression (not counting nested groups)."""
        nested = [(o, c) for o, c, _ in groups if opened < o and c < closed]
        depth = 0
        for k in range(opened + 1, closed):
            if any(o <= k <= c for o, c in nested):
                continue
            tok = self.tokens[k]
            if tok.kind == "punct" and tok.text == "(":
                depth += 1
            elif tok.kind == "punct" and tok.text == ")":
                depth -= 1
            elif tok.kind == "var" and tok.text == "?this" and depth > 0:
                return True
        return False

    def groups(self, start: int, end: int) -> list[tuple[int, int, bool]]:
        """Nested groups strictly inside (start, end): (open, close, inside EXISTS)."""
        found = []
        stack: list[tuple[int, bool]] = []
        previous = ""
        for k in range(start + 1, end):
            tok = self.tokens[k]
            if tok.kind in ("ws", "comment"):
                continue
            if tok.kind == "punct" and tok.text == "{":
                in_exists = previous == "EXISTS" or (bool(stack) and stack[-1][1])
                stack.append((k, in_exists))
            elif tok.kind == "punct" and tok.text == "}":
                opened, in_exists = stack.pop()
                found.append((opened, k, in_exists))
            previous = tok.upper
        return found


# --- the compiler ---------------------------------------------------------------------------

_DEFAULT_PREFIXES = {"rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL)}
_RDFS_SUBCLASS = f"<{RDFS.subClassOf}>"
_RDF_TYPE = f"<{RDF.type}>"
_NODE_KINDS = {
    SH.IRI: "isIRI(?value)",
    SH.BlankNode: "isBlank(?value)",
    SH.Literal: "isLiteral(?value)",
    SH.BlankNodeOrIRI: "(isBlank(?value) || isIRI(?value))",
    SH.BlankNodeOrLiteral: "(isBlank(?value) || isLiteral(?value))",
    SH.IRIOrLiteral: "(isIRI(?value) || isLiteral(?value))",
}
_BOOLEAN_LEXICAL = '("true", "false", "1", "0")'


@dataclass(frozen=True)
class _Pattern:
    """A group pattern binding ?this (and ?value / ?path when pySHACL reports them)."""

    text: str
    kind: str  # constraint name, for logging


class _Compiler:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.shapes = _shapes(graph)

    # prefixes (pySHACL SPARQLQueryHelper.collect_prefixes)
    def prefixes(self, node: Any) -> dict[str, str]:
        found = dict(_DEFAULT_PREFIXES)
        holders = list(self.g.objects(node, SH.prefixes))
        ontologies = set(self.g.subjects(RDF.type, OWL.Ontology))
        global_declares: set[rdflib_term.Node] = set()
        for ont in ontologies:
            global_declares.update(self.g.objects(ont, SH.declare))
        for holder in holders:
            own = set(self.g.objects(holder, SH.declare))
            declares = own if (own and holder in ontologies) else global_declares | own
            for declare in declares:
                prefix = _one(self.g, declare, SH.prefix, "declaration")
                namespace = _one(self.g, declare, SH.namespace, "declaration")
                if prefix is None or namespace is None:
                    raise UnsupportedShapeError(f"incomplete sh:declare {_node_name(declare)}")
                found[str(prefix)] = str(namespace)
        return found

    # focus nodes
    def focus(self, shape: Any, prefixes: dict[str, str]) -> str | None:
        parts: list[str] = []
        classes = list(self.g.objects(shape, SH.targetClass))
        if _implicit_class(self.g, shape):
            classes.append(shape)
        for cls in classes:
            parts.append(
                f"?{_OWN}c {_RDFS_SUBCLASS}* {_term(cls)} . ?this {_RDF_TYPE} ?{_OWN}c ."
            )
        # Several target nodes or predicates: one VALUES block, not a UNION of triple patterns
        # (joined with what follows, oxigraph scans the UNION's partner: 30× slower).
        nodes = _terms(self.g.objects(shape, SH.targetNode))
        if nodes:
            parts.append(f"VALUES ?this {{ {nodes} }}")
        subjects_of = _terms(self.g.objects(shape, SH.targetSubjectsOf))
        if subjects_of:
            parts.append(f"VALUES ?{_OWN}sp {{ {subjects_of} }} ?this ?{_OWN}sp ?{_OWN}o .")
        objects_of = _terms(self.g.objects(shape, SH.targetObjectsOf))
        if objects_of:
            parts.append(f"VALUES ?{_OWN}op {{ {objects_of} }} ?{_OWN}s ?{_OWN}op ?this .")
        for target in self.g.objects(shape, SH.target):
            parts.append(self.sparql_target(shape, target, prefixes))
        if not parts:
            return None
        # Inline, not a DISTINCT sub-select: oxigraph can then look the following patterns up
        # by ?this instead of scanning them. A focus node may come more than once; every
        # query ends in SELECT DISTINCT, and counts count distinct values.
        return parts[0] if len(parts) == 1 else " UNION ".join(f"{{ {p} }}" for p in parts)

    def sparql_target(self, shape: Any, target: Any, prefixes: dict[str, str]) -> str:
        where = f"sh:target of {_node_name(shape)}"
        _check_node(self.g, target, (SH.select, SH.prefixes, SH.deactivated), where)
        if _deactivated(self.g, target):
            raise UnsupportedShapeError(f"{where}: a deactivated target is not supported")
        select = _one(self.g, target, SH.select, where)
        if select is None:
            raise UnsupportedShapeError(f"{where}: only SPARQL targets (sh:select) are supported")
        self.merge_prefixes(prefixes, self.prefixes(target), where)
        sparql = _Sparql(str(select), where, prefixes)
        names, open_index, close_index = sparql.select()
        sparql.rewrite_groups(open_index, close_index)
        if "this" not in names:
            raise UnsupportedShapeError(f"{where}: the target query does not select ?this")
        return f"{{ SELECT ?this WHERE {{ {{ {_text(sparql.tokens)} }} }} }}"

    @staticmethod
    def merge_prefixes(into: dict[str, str], more: Mapping[str, str], where: str) -> None:
        for prefix, namespace in more.items():
            if into.get(prefix, namespace) != namespace:
                raise UnsupportedShapeError(f"{where}: prefix {prefix!r} declared twice")
            into[prefix] = namespace

    # paths
    def path(self, node: Any) -> str:
        g = self.g
        if isinstance(node, URIRef):
            return _iri(node)
        if (node, RDF.first, None) in g:
            return "(" + "/".join(self.path(p) for p in g.items(node)) + ")"
        for pred, mark in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"),
                           (SH.zeroOrOnePath, "?")):
            inner = g.value(node, pred)
            if inner is not None:
                return f"({self.path(inner)}){mark}"
        inner = g.value(node, SH.inversePath)
        if inner is not None:
            return f"^({self.path(inner)})"
        alternatives = g.value(node, SH.alternativePath)
        if alternatives is not None:
            return "(" + "|".join(self.path(p) for p in g.items(alternatives)) + ")"
        raise UnsupportedShapeError(f"unsupported sh:path {_node_name(node)}")

    # shapes
    def check_shape(self, shape: Any) -> None:
        _check_node(self.g, shape, _ALLOWED, "shape")
        for nested in self.g.objects(shape, SH.property):
            if _has_constraints(self.g, nested) or any(
                p in _TARGETS for p in self.g.predicates(nested, None)
            ):
                raise UnsupportedShapeError(
                    f"shape {_node_name(shape)}: sh:property shapes with constraints or targets "
                    "are not supported (only paths listed for sh:closed)"
                )
            if self.g.value(nested, SH.path) is None:
                raise UnsupportedShapeError(f"shape {_node_name(shape)}: sh:property without path")
        if (shape, RDF.type, SH.NodeShape) in self.g and self.g.value(shape, SH.path) is not None:
            raise UnsupportedShapeError(f"node shape {_node_name(shape)} has a sh:path")
        _one(self.g, shape, SH.path, "shape")

    def values(self, shape: Any) -> str:
        """Bind ?value to the value nodes of ?this."""
        path = self.g.value(shape, SH.path)
        if path is None:
            return "BIND (?this AS ?value)"
        return f"?this {self.path(path)} ?value ."

    def patterns(self, shape: Any, focus: str, prefixes: dict[str, str]) -> list[_Pattern]:
        """The constraints of ``shape`` on the focus nodes ``focus``: one pattern each."""
        g = self.g
        self.check_shape(shape)
        where = f"shape {_node_name(shape)}"
        path = g.value(shape, SH.path)
        path_text = None if path is None else self.path(path)
        # a member of sh:or may have a complex path: it is never reported
        bind_path = f"BIND ({_iri(path)} AS ?path)" if isinstance(path, URIRef) else ""
        out: list[_Pattern] = []

        def per_value(condition: str, kind: str) -> None:
            out.append(_Pattern(
                f"{focus} {self.values(shape)} FILTER ({condition}) {bind_path}", kind
            ))

        min_count = _one(g, shape, SH.minCount, where)
        if min_count is not None:
            if path is None:
                raise UnsupportedShapeError(f"{where}: sh:minCount on a node shape")
            count = _int(g, shape, SH.minCount)
            if count == 1:
                out.append(_Pattern(
                    f"{{ SELECT DISTINCT ?this WHERE {{ {focus} OPTIONAL {{ ?this {path_text} "
                    f"?{_OWN}v }} FILTER (!BOUND(?{_OWN}v)) }} }} {bind_path}",
                    "minCount",
                ))
            elif count > 1:
                out.append(_Pattern(
                    f"{{ SELECT ?this WHERE {{ {focus} OPTIONAL {{ ?this {path_text} ?{_OWN}v }} }}"
                    f" GROUP BY ?this HAVING (COUNT(DISTINCT ?{_OWN}v) < {count}) }} {bind_path}",
                    "minCount",
                ))
        if _one(g, shape, SH.maxCount, where) is not None:
            if path is None:
                raise UnsupportedShapeError(f"{where}: sh:maxCount on a node shape")
            count = _int(g, shape, SH.maxCount)
            out.append(_Pattern(
                f"{{ SELECT ?this WHERE {{ {focus} ?this {path_text} ?{_OWN}v }}"
                f" GROUP BY ?this HAVING (COUNT(DISTINCT ?{_OWN}v) > {count}) }} {bind_path}",
                "maxCount",
            ))
        datatype = _one(g, shape, SH.datatype, where)
        if datatype is not None:
            per_value(f"!({self.datatype_ok(datatype, where)})", "datatype")
        kind = _one(g, shape, SH.nodeKind, where)
        if kind is not None:
            if kind not in _NODE_KINDS:
                raise UnsupportedShapeError(f"{where}: unknown sh:nodeKind {kind!r}")
            per_value(f"!{_NODE_KINDS[kind]}", "nodeKind")
        if _one(g, shape, SH.minLength, where) is not None:
            length = _int(g, shape, SH.minLength)
            if length > 0:
                per_value(f"isBlank(?value) || STRLEN(STR(?value)) < {length}", "minLength")
        members = _one(g, shape, SH["in"], where)
        if members is not None:
            items = list(g.items(members))
            if items:
                same = " || ".join(f"sameTerm(?value, {_term(i)})" for i in items)
                per_value(f"!({same})", "in")
            else:
                out.append(_Pattern(f"{focus} {self.values(shape)} {bind_path}", "in"))
        for cls in sorted(g.objects(shape, SH["class"]), key=str):
            out.append(_Pattern(
                f"{{ {focus} {self.values(shape)} }} MINUS {{ ?value {_RDF_TYPE} ?{_OWN}t . "
                f"?{_OWN}t {_RDFS_SUBCLASS}* {_term(cls)} }} {bind_path}",
                "class",
            ))
        for value in sorted(g.objects(shape, SH.hasValue), key=str):
            if path is None:
                test = f"{focus} FILTER (!sameTerm(?this, {_term(value)}))"
            else:
                test = f"{focus} MINUS {{ ?this {path_text} {_term(value)} }}"
            out.append(_Pattern(f"{test} {bind_path}", "hasValue"))
        for members in sorted(g.objects(shape, SH["or"]), key=str):
            pattern = self.disjunction(shape, list(g.items(members)), focus, prefixes, bind_path)
            if pattern is not None:
                out.append(pattern)
        closed = _one(g, shape, SH.closed, where)
        ignored = list(g.objects(shape, SH.ignoredProperties))
        if ignored and closed is None:
            raise UnsupportedShapeError(f"{where}: sh:ignoredProperties without sh:closed")
        if isinstance(closed, Literal) and closed.value is True:
            out.append(self.closed(shape, ignored, focus))
        elif closed is not None and not (isinstance(closed, Literal) and closed.value is False):
            raise UnsupportedShapeError(f"{where}: sh:closed is not a boolean")
        return out

    def datatype_ok(self, datatype: Any, where: str) -> str:
        """An expression true when ?value matches sh:datatype as pySHACL checks it."""
        if datatype == RDFS.Literal:
            return "isLiteral(?value)"
        if datatype == RDF.langString:
            return 'isLiteral(?value) && LANG(?value) != ""'
        if not isinstance(datatype, URIRef) or datatype == RDFS.Datatype:
            raise UnsupportedShapeError(f"{where}: sh:datatype {datatype!r} is not supported")
        same = f"isLiteral(?value) && DATATYPE(?value) = {_iri(datatype)}"
        if datatype == XSD.boolean:
            # rdflib: ill-typed unless the lexical form is exactly one of these
            return f"{same} && STR(?value) IN {_BOOLEAN_LEXICAL}"
        mapping = rdflib_term._toPythonMapping
        if datatype not in mapping or mapping[datatype] is None:
            return same  # no lexical check in rdflib: the datatype IRI decides
        raise UnsupportedShapeError(
            f"{where}: sh:datatype {datatype.n3()} needs rdflib's lexical check, not implemented"
        )

    def disjunction(
        self, shape: Any, members: list[Any], focus: str, prefixes: dict[str, str], bind_path: str
    ) -> _Pattern | None:
        where = f"sh:or of {_node_name(shape)}"
        if not members:
            raise UnsupportedShapeError(f"{where}: empty list")
        values = self.values(shape)
        if self.g.value(shape, SH.path) is None:
            candidates = focus  # a node shape's value node is its focus node
        else:
            candidates = (
                f"{{ SELECT DISTINCT ?this WHERE {{ {{ SELECT DISTINCT ?value WHERE {{ {focus} "
                f"{values} }} }} BIND (?value AS ?this) }} }}"
            )
        failing: list[str] = []
        for member in members:
            if member not in self.shapes:
                raise UnsupportedShapeError(f"{where}: member {_node_name(member)} is no shape")
            if any(p in _TARGETS for p in self.g.predicates(member, None)):
                raise UnsupportedShapeError(f"{where}: a member with targets is not supported")
            if self.g.value(member, SH.severity) is not None:
                # with allow_warnings pySHACL lets a Warning/Info member conform anyway
                raise UnsupportedShapeError(f"{where}: a member with sh:severity")
            if _deactivated(self.g, member):
                return None  # a deactivated member conforms: the disjunction holds
            patterns = self.patterns(member, candidates, prefixes)
            if not patterns:
                return None  # a member without constraints conforms
            union = " UNION ".join(f"{{ {p.text} }}" for p in patterns)
            failing.append(
                f"{{ SELECT DISTINCT (?this AS ?value) WHERE {{ {{ SELECT ?this WHERE "
                f"{{ {union} }} }} }} }}"
            )
        return _Pattern(f"{focus} {values} {' '.join(failing)} {bind_path}", "or")

    def closed(self, shape: Any, ignored: list[Any], focus: str) -> _Pattern:
        allowed: set[Any] = set()
        for members in ignored:
            allowed.update(self.g.items(members))
        for nested in self.g.objects(shape, SH.property):
            allowed.add(self.g.value(nested, SH.path))
        iris = sorted(str(a) for a in allowed if isinstance(a, URIRef))
        path = self.g.value(shape, SH.path)
        if path is None:
            triples = "?this ?path ?value ."
        else:
            triples = f"?this {self.path(path)} ?{_OWN}n . ?{_OWN}n ?path ?value ."
        not_in = ", ".join(f"<{i}>" for i in iris)
        filters = f"FILTER (?path NOT IN ({not_in}))" if iris else ""
        return _Pattern(
            f"{focus} {triples} {filters} FILTER (!(sameTerm(?path, {_RDF_TYPE}) && "
            f"sameTerm(?value, <{RDFS.Resource}>)))",
            "closed",
        )

    def sparql_constraint(
        self, shape: Any, constraint: Any, focus: str, prefixes: dict[str, str], message: str
    ) -> tuple[str, tuple[str, ...]]:
        """(query body, message variables) of one sh:sparql constraint."""
        g = self.g
        where = f"sh:sparql of {_node_name(shape)}"
        _check_node(g, constraint, (SH.select, SH.prefixes, SH.message, SH.deactivated), where)
        select = _one(g, constraint, SH.select, where)
        if select is None:
            raise UnsupportedShapeError(f"{where}: no sh:select")
        self.merge_prefixes(prefixes, self.prefixes(constraint), where)
        sparql = _Sparql(str(select), where, prefixes)
        names, open_index, close_index = sparql.select()
        if "failure" in names or "focus" in names:
            raise sparql.fail("?failure / ?focus in the projection is not supported")
        path = g.value(shape, SH.path)
        body = sparql.tokens[open_index:close_index + 1]
        for tok in body:
            if tok.upper in ("SELECT", "MINUS", "VALUES", "GROUP", "HAVING", "LIMIT", "OFFSET",
                             "COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT"):
                raise sparql.fail(f"{tok.upper} inside a SHACL-SPARQL constraint")
            if tok.kind == "var":
                name = tok.text[1:]
                if name in ("currentShape", "shapesGraph"):
                    raise sparql.fail(f"${name} is not supported")
                if name == "PATH":
                    if not isinstance(path, URIRef):
                        raise sparql.fail("$PATH needs a property shape with an IRI path")
                    tok.kind, tok.text = "iri", _iri(path)
                elif name in ("path", "value"):
                    tok.text = f"?{_OWN}{name}"
        # $this is pre-bound: join the focus nodes into every group using it in an expression
        sparql.rewrite_groups(open_index, close_index, _distinct(focus))
        inner = _text(sparql.tokens[open_index + 1:close_index])
        extras = [n for n in names if n not in ("this", "path", "value")]
        projected = " ".join(f"?{n}" for n in ("this", f"{_OWN}path", f"{_OWN}value", *extras))
        if path is None:
            path_bind = f"BIND (?{_OWN}path AS ?path)"
            value_bind = f"BIND (COALESCE(?{_OWN}value, ?this) AS ?value)"
        else:
            if re.search(r"{[?$]path}", message):
                raise sparql.fail("{?path} in the message of a property shape's constraint")
            if not isinstance(path, URIRef):
                raise sparql.fail("a SHACL-SPARQL constraint on a non-IRI path")
            path_bind = f"BIND (COALESCE(?{_OWN}path, {_iri(path)}) AS ?path)"
            value_bind = f"BIND (?{_OWN}value AS ?value)"
        seen = "" if "this" in names else f"FILTER (BOUND(?{_OWN}path) || BOUND(?{_OWN}value))"
        text = (
            f"{{ SELECT {projected} WHERE {{ {focus} {inner} }} }} {seen} "
            f"{path_bind} {value_bind}"
        )
        variables = (*extras, *(("this",) if "this" in names else ()), "path", "value")
        return text, variables

    def message(self, shape: Any, extra: Iterable[Any] = ()) -> str:
        messages = sorted({str(m) for m in self.g.objects(shape, SH.message)})
        extra_messages = sorted({str(m) for m in extra} - set(messages))
        found = messages + extra_messages
        if len(found) != 1:
            raise UnsupportedShapeError(
                f"shape {_node_name(shape)} needs exactly one sh:message (it has {len(found)})"
            )
        return found[0]

    def severity(self, shape: Any) -> str:
        value = _one(self.g, shape, SH.severity, "shape")
        if value is None:
            return "Violation"
        if value not in _SEVERITIES:
            raise UnsupportedShapeError(f"shape {_node_name(shape)}: severity {value!r}")
        return _SEVERITIES[value]

    def compile(self) -> tuple[CompiledShape, ...]:
        _check_graph(self.g)
        out: list[CompiledShape] = []
        for shape in sorted(self.shapes, key=lambda s: (isinstance(s, BNode), str(s))):
            self.check_shape(shape)
            if _deactivated(self.g, shape):
                continue
            prefixes = dict(_DEFAULT_PREFIXES)
            focus = self.focus(shape, prefixes)
            if focus is None:
                continue
            path = self.g.value(shape, SH.path)
            if path is not None and not isinstance(path, URIRef):
                raise UnsupportedShapeError(
                    f"shape {_node_name(shape)}: a targeted shape's sh:path must be an IRI"
                )
            name, severity = _node_name(shape), self.severity(shape)
            for pattern in self.patterns(shape, focus, prefixes):
                query = (
                    f"{_prologue(prefixes)}SELECT DISTINCT (?this AS ?focus) ?path ?value "
                    f"WHERE {{ {pattern.text} }}"
                )
                out.append(CompiledShape(name, severity, self.message(shape), query))
                logger.debug("compiled %s (%s)", name, pattern.kind)
            for constraint in sorted(self.g.objects(shape, SH.sparql), key=str):
                if _deactivated(self.g, constraint):
                    continue
                message = self.message(shape, self.g.objects(constraint, SH.message))
                body, variables = self.sparql_constraint(
                    shape, constraint, focus, prefixes, message
                )
                extras = " ".join(
                    f"?{v}" for v in variables if v not in ("this", *OUTPUT_VARIABLES)
                )
                query = (
                    f"{_prologue(prefixes)}SELECT DISTINCT (?this AS ?focus) ?path ?value "
                    f"{extras} WHERE {{ {body} }}"
                )
                out.append(CompiledShape(name, severity, message, query, variables))
                logger.debug("compiled %s (sparql)", name)
        return tuple(out)


def _distinct(focus: str) -> str:
    return f"{{ SELECT DISTINCT ?this WHERE {{ {focus} }} }}"


def _prologue(prefixes: Mapping[str, str]) -> str:
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in sorted(prefixes.items()))


def compile_shapes(shapes: Graph) -> tuple[CompiledShape, ...]:
    """Compile every targeted shape of ``shapes`` to SPARQL SELECT queries.

    One :class:`CompiledShape` per constraint (and per ``sh:sparql``) of each shape that has a
    target; the union of their rows over a data graph is pySHACL's validation report of that
    graph (``inference="none"``, ``advanced=True``). The queries run set-at-a-time: over one
    default graph holding the knowledge base and any number of patient records.

    Raises:
        UnsupportedShapeError: a shape uses a construct the compiler does not implement.
    """
    return _Compiler(shapes).compile()
