"""Reports for people: a text report a clinician can act on in ten seconds, and an HTML page.

Both start with a **headline per leg**: the most severe status that holds for every catalogue
intervention on that leg, and the record items behind it ("LEFT LEG — no massage: suspected
deep vein thrombosis (since 2026-11-19)"), a statement about deep pressure when a rule reaches
exactly the deep-pressure techniques ("light pressure only: osteoporosis"), the two legs
merged when they say the same. Then the decisions **grouped** so that identical outcomes
collapse: one line per body region, side, status and set of reasons. Lifted reasons and the
full per-decision list only in the verbose text. Nothing here decides anything: the statuses and
reasons are the assessment's; labels, regions and pressures come from the knowledge base.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .assessment import Assessment, Decision, Reason
from .engine import Tables, default_engine
from .errors import one_line, spelled, visible
from .namespaces import km_term
from .validation import ValidationResult

__all__ = ["Headline", "headlines", "groups", "own_plan", "to_people_text", "to_html", "form_page"]

#: What a status says about a whole leg.
WHOLE_LEG = {
    "forbidden": "no massage",
    "requires-clearance": "medical clearance needed before any massage of the catalogue",
    "caution": "caution with any massage of the catalogue",
    "permitted": "every massage of the catalogue permitted",
}
#: What a status says about some of a leg's catalogue interventions (the most severe status on
#: a leg when no statement about the whole leg or its deep pressure says it).
SOME = {
    "forbidden": "some massage forbidden",
    "requires-clearance": "medical clearance needed before some massage",
    "caution": "caution with some massage",
}
#: What a status says about the deep-pressure techniques of a leg.
DEEP_ONLY = {
    "forbidden": "no deep pressure",
    "requires-clearance": "medical clearance needed before deep pressure",
    "caution": "light pressure only",
}
SIDES = ("left", "right")
REGIONS = ("Hip", "Thigh", "Knee", "LowerLeg")
COLOURS = {"forbidden": "#c62828", "requires-clearance": "#ef6c00", "caution": "#f9a825",
           "permitted": "#2e7d32", "none": "#9e9e9e"}


@dataclass(frozen=True)
class Headline:
    """One statement about one leg or both: its status, its wording and the reasons behind it."""

    sides: tuple[str, ...]
    status: str
    text: str
    reasons: tuple[Reason, ...]
    #: about some interventions of the leg only (the region lines say which)
    partial: bool = False

    @property
    def where(self) -> str:
        return "BOTH LEGS" if len(self.sides) == 2 else f"{self.sides[0].upper()} LEG"

    def line(self) -> str:
        items = _items(self.reasons)
        line = f"{self.where} — {self.text}" + (f": {items}" if items else "")
        unclearable = _tables().unclearable
        if self.status == "requires-clearance" and any(r.rule in unclearable
                                                       for r in self.reasons):
            line += (" — no clearance lifts unrecognised content: correct the record"
                     if all(r.rule in unclearable for r in self.reasons) else
                     " — no clearance lifts the unrecognised content: correct the record too")
        return line


def _tables() -> Tables:
    return default_engine().tables


#: The source text every rule cites (its sections are the rules' ``source``).
ARTICLE = "Is Massage Good for Knee Pain?"
#: What a reason whose item gives no usable date says of its time (the rule then counts from
#: the assessment time: a date missing, unreadable or in the future).
NO_DATE = "no usable date: counts from the assessment time"


def item_text(reason: Reason) -> str:
    """The item behind a reason, for people: what it is, since when, where in the record (and
    in the FHIR Bundle it was read from)."""
    when = f"since {reason.since}" if reason.since else NO_DATE
    where = f"{reason.item}: {reason.item_source}" if reason.item_source else reason.item
    return f"{reason.item_label or reason.item} ({when}) [{where}]"


def _item(reason: Reason) -> str:
    return reason.rule if reason.item is None else item_text(reason)


def _items(reasons: Iterable[Reason]) -> str:
    seen: list[str] = []
    for reason in reasons:
        text = _item(reason)
        if text not in seen:
            seen.append(text)
    return "; ".join(seen)


def _key(reason: Reason) -> tuple[str, str, str | None]:
    return (reason.rule, reason.status, reason.item)


def headlines(assessment: Assessment) -> list[Headline]:
    """The statements that hold for a whole leg (or its deep-pressure techniques), both legs
    merged when they say the same."""
    tables = _tables()
    ranks = tables.status_ranks
    found: list[Headline] = []
    for side in SIDES:
        catalogue = [d for d in assessment.decisions if d.side == side and not own_plan(d)]
        deep = [d for d in catalogue if d.technique_iri in tables.deep]
        cover: dict[tuple[str, str, str | None], list[Decision]] = defaultdict(list)
        first: dict[tuple[str, str, str | None], Reason] = {}
        for decision in catalogue:
            for reason in decision.reasons:
                if not reason.lifted:
                    cover[_key(reason)].append(decision)
                    first.setdefault(_key(reason), reason)
        whole = [first[k] for k, ds in cover.items() if len({id(d) for d in ds}) == len(catalogue)]
        if catalogue and all(d.status == "permitted" for d in catalogue):
            found.append(Headline((side,), "permitted", WHOLE_LEG["permitted"], ()))
        status = ""
        if whole:
            status = max((r.status for r in whole), key=ranks.__getitem__)
            chosen = tuple(r for r in whole if r.status == status)
            found.append(Headline((side,), status, WHOLE_LEG[status], chosen))
        floor = min((d.status for d in catalogue), key=ranks.__getitem__, default="permitted")
        if floor != "permitted" and (not status or ranks[floor] > ranks[status]):
            # no one reason covers the leg, several together do (wounds at hip and lower leg,
            # a swelling at the thigh): what sets each intervention at that status
            setting = {_key(r): r for d in catalogue if d.status == floor
                       for r in d.reasons if not r.lifted and r.status == floor}
            status = floor
            found.append(Headline((side,), floor, WHOLE_LEG[floor], tuple(
                sorted(setting.values(), key=lambda r: (r.item or "", r.rule)))))
        deep_only = [first[k] for k, ds in cover.items()  # said unless no massage at all
                     if deep and {id(d) for d in ds} == {id(d) for d in deep}
                     and status != "forbidden"]
        for status in sorted({r.status for r in deep_only}, key=ranks.__getitem__,
                             reverse=True):
            chosen = tuple(r for r in deep_only if r.status == status)
            found.append(Headline((side,), status, DEEP_ONLY[status], chosen))
        probes = [p for p in assessment.probes if p.side == side]
        worst = max((d.status for d in [*catalogue, *probes]), key=ranks.__getitem__,
                    default="permitted")
        if worst != "permitted" and all(ranks[h.status] < ranks[worst] for h in found
                                        if side in h.sides):
            # the leg's most severe status, which no statement above says (a wound at the
            # thigh and one at the lower leg: caution for the whole leg, forbidden for most;
            # a wound at the knee: even light massage there)
            worse = [d for d in [*catalogue, *probes] if d.status == worst]
            setting = {_key(r): r for d in worse for r in d.reasons
                       if not r.lifted and r.status == worst}
            count = len({(d.technique, d.target) for d in worse if d in catalogue})
            total = len({(d.technique, d.target) for d in catalogue})
            where = [f"{count} of {total} interventions of the catalogue" if count else "",
                     "even light massage at the knee" if len(worse) > count else ""]
            found.append(Headline(
                (side,), worst, f"{SOME[worst]} ({' and '.join(filter(None, where))}, by "
                "region below)",
                tuple(sorted(setting.values(), key=lambda r: (r.item or "", r.rule))), True))
    merged: list[Headline] = []
    for headline in found:
        twin = next((h for h in merged if h.text == headline.text
                     and _items(h.reasons) == _items(headline.reasons)), None)
        if twin is not None:
            merged[merged.index(twin)] = Headline(SIDES, twin.status, twin.text, twin.reasons,
                                                  twin.partial)
        else:
            merged.append(headline)
    return sorted(merged, key=lambda h: (-ranks[h.status], h.sides))


def lifted_reasons(assessment: Assessment) -> list[str]:
    """Each rule a clearance lifted, once per item: what it was and what lifted it (a clinician
    checks the clearance covers it)."""
    seen: dict[tuple[str, str | None], Reason] = {}
    for decision in assessment.decisions:
        for reason in decision.reasons:
            if reason.lifted:
                seen.setdefault((reason.rule, reason.item), reason)
    faults = _clearance_faults(assessment)
    return [f"{r.rule} ({r.status}): {_item(r) if r.item else 'always'} — lifted by "
            f"{_lifters(r)}" + "".join(
                f"; {path} does NOT conform ({', '.join(faults[path])}): check it before "
                "relying on it" for path in r.lifted_by if path in faults)
            for _, r in sorted(seen.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]


def _unclear_lifters(assessment: Assessment) -> list[str]:
    """The clearances that lifted a rule though they do not conform (see
    :func:`_clearance_faults`), sorted."""
    faults = _clearance_faults(assessment)
    return sorted({path for d in assessment.decisions for r in d.reasons if r.lifted
                   for path in r.lifted_by if path in faults})


def _clearance_faults(assessment: Assessment) -> dict[str, list[str]]:
    """The fields of each clearance that hold a Violation, by the clearance as a reason names
    it (``clearances[0]`` → ``["clearances[0].status"]``; a Turtle clearance by its IRI): a
    clearance whose status is not one the rules know still lifts, as they say, and a
    clinician must see that it is unclear."""
    faults: dict[str, list[str]] = {}
    for result in assessment.validation:
        if result.severity != "Violation":
            continue
        field = result.field or result.path or ""
        names = {result.focus}
        if field.startswith("clearances[") and not field.startswith("clearances[?]"):
            names.add(field[:field.index("]") + 1])
        for name in names:
            faults.setdefault(name, []).append(field)
    return faults


def _lifters(reason: Reason) -> str:
    """The clearances that lifted a reason, with their date and issuer."""
    return ", ".join(reason.lifted_by_detail or reason.lifted_by)


def own_plan(decision: Decision) -> bool:
    """A planned intervention outside the catalogue (decided on its own)."""
    return decision.planned and (decision.technique_iri is None or decision.target_iri is None
                                 or (decision.technique, decision.target) not in _catalogue())


def _catalogue() -> frozenset[tuple[str | None, str | None]]:
    engine = default_engine()
    from .namespaces import local_name

    return frozenset((local_name(r["technique"]), local_name(r["target"]))
                     for r in engine.catalogue)


def _region(decision: Decision, tables: Tables) -> str:
    regions = tables.regions.get(decision.target_iri or "", ())
    return regions[0] if regions else "any region"


def _label(iri: str | None, name: str | None, tables: Tables, missing: str = "(none)") -> str:
    """A technique's or target's label; a name the knowledge base does not know as spelled."""
    if iri is not None and iri in tables.labels:
        return tables.labels[iri]
    return (name if iri is not None else spelled(name)) if name else missing


def groups(assessment: Assessment, *, skip: Iterable[Headline] = ()
           ) -> list[tuple[str, str, str, list[str], str]]:
    """Decisions grouped by region, side, status and the reasons that set the status:
    ``(region, side, status, interventions, reasons)``, most severe first; the interventions
    named by target ("quadriceps (effleurage, petrissage)"). Decisions a whole-leg headline in
    ``skip`` already states (same leg, same status) are left out (a statement about some
    interventions only never). A region probe (light massage where the catalogue has nothing:
    the knee) that the items restrict comes as "even light massage", with a word that deep
    pressure there is never milder."""
    tables = _tables()
    ranks = tables.status_ranks
    stated = {(side, h.status): {_key(r) for r in h.reasons} for h in skip for side in h.sides
              if not h.partial}
    known = {(d.technique, d.target, d.side): d.status for d in assessment.decisions}
    grouped: dict[tuple[str, str, str, str], dict[str, list[str]]] = defaultdict(dict)
    probes = [p for p in assessment.probes if p.status != tables.status_order[0]]
    probe_ids = {id(p) for p in probes}
    for decision in [*assessment.decisions, *probes]:
        setting = [r for r in decision.reasons if not r.lifted and r.status == decision.status]
        said = stated.get((decision.side, decision.status))
        if said is not None and {_key(r) for r in setting} <= said and not own_plan(decision):
            continue
        why = ", ".join(sorted({f"{r.rule}: {r.item_label}" if r.item_label else r.rule
                                for r in setting}))
        better = [a for a in decision.alternatives  # only those milder for this patient
                  if ranks[known.get((decision.technique, a, decision.side), decision.status)]
                  < ranks[decision.status]]
        if better:  # each with its status, unless permitted
            named = [(_label(str(km_term(a)), a, tables),
                      known[(decision.technique, a, decision.side)]) for a in better]
            why += "; instead work: " + ", ".join(
                name if status == tables.status_order[0] else f"{name} ({status})"
                for name, status in named)
        if id(decision) in probe_ids:  # a light technique stands for every technique there
            why += "; deep pressure there is never milder (on the kneecap, forbidden for all)"
        key = (_region(decision, tables), decision.side, decision.status, why)
        target = _label(decision.target_iri, decision.target, tables, "(no target given)")
        technique = _label(decision.technique_iri, decision.technique, tables,
                           "no technique given")
        if id(decision) in probe_ids:
            technique = "even light massage"
        grouped[key].setdefault(target, []).append(
            technique + (" (planned)" if decision.planned else ""))
    order = {name: i for i, name in enumerate(REGIONS)}
    return [
        (region, side, status,
         [f"{target} ({', '.join(sorted(techniques))})"
          for target, techniques in sorted(targets.items())], why)
        for (region, side, status, why), targets in sorted(
            grouped.items(),
            key=lambda kv: (-ranks[kv[0][2]], order.get(kv[0][0], 9), kv[0][1], kv[0][3]))
    ]


def _region_name(region: str) -> str:
    return {"LowerLeg": "Lower leg"}.get(region, region)


def _fields(results: list[ValidationResult]) -> str:
    shown = "; ".join(f"{r.field or 'record'}" for r in results[:5])
    return shown + (" …" if len(results) > 5 else "") + " (kgmassage validate)"


def record_notes(assessment: Assessment) -> list[str]:
    """What a report says of the record itself: that it does not conform (its Violations),
    and its Warnings (a code the mapping table does not know, beside one it knows …), with
    the fields to check."""
    violations = [r for r in assessment.validation if r.severity == "Violation"]
    warnings = [r for r in assessment.validation if r.severity == "Warning"]
    notes = []
    if violations:
        notes.append(f"The record does NOT conform ({len(violations)} problem(s)); unclear data "
                     f"is read fail-safe. Fix: {_fields(violations)}")
        unclear = _unclear_lifters(assessment)
        if unclear:  # the rules let a clearance of an unknown status lift
            notes.append(f"A clearance that does NOT conform lifted rules ({', '.join(unclear)}):"
                         " check it before relying on the permissions below")
    if warnings:
        notes.append(f"Check the record ({len(warnings)} warning(s)): {_fields(warnings)}")
    return notes


def to_people_text(assessment: Assessment, *, verbose: bool = False) -> str:
    """The report for clinicians (see the module doc); ``verbose`` adds lifted reasons and
    every decision with all its reasons."""
    a = assessment
    lines = [f"Patient {a.patient or '(no id)'} — assessed {a.assessed_at:%Y-%m-%d %H:%M} UTC"
             f" — knowledge base {a.knowledge_version}"]
    lines += record_notes(a)
    lines.append("")
    heads = headlines(a)
    lines += [h.line() for h in heads] or ["No restriction holds for a whole leg."]
    cleared = lifted_reasons(a)
    if cleared:
        lines += ["", "Lifted by a medical clearance (check it covers them):"]
        lines += [f"  {line}" for line in cleared]
    rest = groups(a, skip=heads)
    if rest:
        lines += ["", "By region" + (" (besides the above)" if heads else "")]
    for region, side, status, items, why in rest:
        reasons = f" — {why}" if why else ""
        lines.append(f"  {_region_name(region)}, {side}: {status}: {'; '.join(items)}{reasons}")
    summary = ", ".join(f"{v} {k}" for k, v in reversed(list(a.summary.items())))
    lines += ["", f"{len(a.decisions)} decisions: {summary}"]
    if verbose:
        lines += ["", "Every decision, with every reason (lifted ones marked):"]
        for d in a.decisions:
            lines.append(f"  {d.technique} on {d.target}, {d.side}: {d.status}"
                         + (" (planned)" if d.planned else ""))
            for r in d.reasons:
                lifted = f", lifted by {', '.join(r.lifted_by)}" if r.lifted else ""
                lines.append(f"      {r.rule} ({r.status}{lifted}) {_item(r) if r.item else ''}"
                             f" — {r.message} [{r.source}]")
        if a.validation:
            lines += ["", "Validation:"]
            lines += [f"  {r.severity} {r.field or ''}: {r.message}" for r in a.validation]
    return visible("\n".join(map(one_line, lines)) + "\n")


# ---------------------------------------------------------------------------------- HTML

_LEG = {  # region → (y, height) of its band in a leg drawn 60 wide, 400 high
    "Hip": (10, 70), "Thigh": (85, 140), "Knee": (230, 50), "LowerLeg": (285, 115)}


def region_statuses(assessment: Assessment) -> dict[tuple[str, str], str]:
    """Each region of each leg: the most severe status of the decisions whose target lies
    there, at least the status that holds for the whole leg. A region no decision targets (the
    knee, unless a plan does) is ``"forbidden"`` when the whole leg is, or when the patient's
    items forbid even light massage there (the assessment's region probes); else ``"none"``:
    deep pressure on the patella is forbidden for everyone, so any other status would be drawn
    milder than it may be (the report lists what the items impose there)."""
    tables = _tables()
    ranks = tables.status_ranks
    whole: dict[str, str] = {}
    for h in headlines(assessment):  # most severe first: the first whole-leg status counts
        if h.text == WHOLE_LEG[h.status]:
            for side in h.sides:
                whole.setdefault(side, h.status)
    found: dict[tuple[str, str], str] = {}
    for decision in assessment.decisions:
        regions = tables.regions.get(decision.target_iri or "", REGIONS)
        for region in regions:
            key = (decision.side, region)
            if key not in found or ranks[decision.status] > ranks[found[key]]:
                found[key] = decision.status
    light: dict[tuple[str, str], str] = {}
    for probe in assessment.probes:
        for region in tables.regions.get(probe.target_iri or "", REGIONS):
            key = (probe.side, region)
            if key not in light or ranks[probe.status] > ranks[light[key]]:
                light[key] = probe.status
    for side in SIDES:
        for region in REGIONS:
            leg = whole.get(side)
            here = found.get((side, region))
            if here is None and light.get((side, region)) == tables.status_order[-1]:
                here = found[(side, region)] = light[(side, region)]  # even light massage
            if here is None:  # only the most severe whole-leg status is exact there
                found[(side, region)] = leg if leg == tables.status_order[-1] else "none"
            elif leg is not None and ranks[leg] > ranks[here]:
                found[(side, region)] = leg
    return found


def ink(fill: str) -> str:
    """Black or white, whichever reads better on the ``#rrggbb`` colour ``fill`` (the WCAG 2
    contrast ratio)."""
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
              for c in (int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5))]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#fff"


def _svg(assessment: Assessment) -> str:
    statuses = region_statuses(assessment)
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 260 430" width="260" '
             'height="430" role="img" aria-label="Both legs by region, coloured by status">']
    for index, side in enumerate(("right", "left")):  # the patient's right on the viewer's left
        x = 40 + index * 120
        parts.append(f'<text x="{x + 30}" y="425" text-anchor="middle" font-size="13">'
                     f'{side} leg</text>')
        for region, (y, height) in _LEG.items():
            status = statuses[(side, region)]
            parts.append(
                f'<rect id="{side}-{region}" data-status="{status}" x="{x}" y="{y}" width="60" '
                f'height="{height}" rx="12" fill="{COLOURS[status]}" stroke="#222">'
                f'<title>{side} {_region_name(region).lower()}: {status}</title></rect>')
            parts.append(f'<text x="{x + 30}" y="{y + height / 2 + 4}" text-anchor="middle" '
                         f'font-size="11" fill="{ink(COLOURS[status])}">'
                         f'{_region_name(region)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def basis(assessment: Assessment) -> list[str]:
    """Every rule that applies, once per item, most severe first: the rule, what it gives, its
    message, the item behind it and the section of the source article (a clinician checks a
    decision against these)."""
    seen: dict[tuple[str, str, str | None, bool], Reason] = {}
    for d in assessment.decisions:
        for r in d.reasons:
            seen.setdefault((r.rule, r.status, r.item, r.lifted), r)
    ranks = _tables().status_ranks
    ordered = sorted(seen.values(),
                     key=lambda r: (-ranks[r.status], r.lifted, r.rule, r.item or ""))
    return [f"{r.rule} ({r.status}{', lifted by ' + _lifters(r) if r.lifted else ''})"
            f": {r.message} — {item_text(r) if r.item else 'always'} — source: {ARTICLE}, "
            f"section \"{r.source}\"" for r in ordered]


def _basis_html(assessment: Assessment) -> str:
    lines = basis(assessment)
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return (f"<details><summary>The basis of each rule that applies ({len(lines)})</summary>"
            f'<ul class="basis">{items}</ul></details>')


def to_html(assessments: Sequence[Assessment], *, back: str | None = None) -> str:
    """One self-contained HTML page (no network fetches): per patient an SVG of both legs by
    region, each coloured by the most severe status there, a legend, the headlines and the
    decisions grouped by region; ``back``, a link to the form the record came from."""
    esc = html.escape
    body = []
    for a in assessments:
        heads = "".join(f'<li class="{esc(h.status)}">{esc(h.line())}</li>'
                        for h in headlines(a)) or "<li>No restriction holds for a whole leg.</li>"
        rows = "".join(
            f'<tr class="{esc(status)}"><td>{esc(_region_name(region))}</td><td>{esc(side)}</td>'
            f"<td>{esc(status)}</td><td>{esc('; '.join(items))}</td><td>{esc(why)}</td></tr>"
            for region, side, status, items, why in groups(a))
        cleared = "".join(f"<li>{esc(line)}</li>" for line in lifted_reasons(a))
        if cleared:
            heads += ("<li>Lifted by a medical clearance (check it covers them):<ul>"
                      f"{cleared}</ul></li>")
        conform = "".join(f'<p class="warning">{esc(note)}</p>' for note in record_notes(a))
        body.append(
            f'<section class="patient"><h2>Patient {esc(one_line(a.patient or "(no id)"))}</h2>'
            f'<p>Assessed {a.assessed_at:%Y-%m-%d %H:%M} UTC · knowledge base '
            f"{esc(a.knowledge_version)}</p>{conform}"
            f'<div class="top"><figure>{_svg(a)}<figcaption>{_legend()}</figcaption></figure>'
            f'<ul class="headlines">{heads}</ul></div>'
            "<table><thead><tr><th>Region</th><th>Side</th><th>Status</th>"
            "<th>Interventions</th><th>Why</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{_basis_html(a)}</section>")
    link = f'<p><a href="{esc(back)}">Assess another record</a></p>' if back else ""
    return _page(visible(link + "".join(body) + link))


def _page(body: str) -> str:
    """A whole page around ``body``, with the report's style (inline: no network fetches)."""
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>kgmassage assessment</title><style>"
            "body{font-family:sans-serif;margin:1.5em;color:#222}"
            ".top{display:flex;gap:2em;align-items:flex-start}"
            ".headlines li{margin:.4em 0;font-weight:bold}"
            "li.forbidden{color:#c62828}li.requires-clearance{color:#b34700}"
            "li.caution{color:#8d6e00}table{border-collapse:collapse;margin-top:1em}"
            "td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;font-size:.9em}"
            "td:nth-child(4),h2{overflow-wrap:anywhere}td:nth-child(5){overflow-wrap:break-word}"
            ".legend{width:260px;font-size:.85em}.legend div{margin:.15em 0}"
            ".legend span{display:inline-block;width:1em;height:1em;margin-right:.4em;"
            "vertical-align:middle}.warning{color:#c62828}figure{margin:0}"
            "textarea{width:100%;max-width:60em;font-family:monospace}"
            "</style></head><body><h1>Massage for knee pain: what is safe</h1>"
            + body + "</body></html>\n")


def form_page(*, message: str | None = None, record: str = "", at: str = "",
              action: str = "/") -> str:
    """The page of the service's form: paste a record (JSON form or a FHIR R4 Bundle) or pick
    a file (read in the browser, nothing fetched), optionally an assessment time; the answer
    is the :func:`to_html` report. ``message``: why the last record was refused."""
    esc = html.escape
    error = f'<p class="warning" role="alert">{esc(message)}</p>' if message else ""
    return _page(
        f'{error}<form method="post" action="{esc(action)}">'
        '<p><label for="file">A record file (JSON record or FHIR R4 Bundle):</label> '
        '<input type="file" id="file" accept=".json,application/json"></p>'
        '<p><label for="record">or paste it here:</label><br>'
        f'<textarea id="record" name="record" rows="18" required>{esc(record)}</textarea></p>'
        '<p><label for="at">Assessment time (optional, e.g. 2026-11-20T10:00:00Z):</label> '
        f'<input id="at" name="at" value="{esc(at)}"></p>'
        '<p><button type="submit">Assess</button></p></form>'
        "<script>document.getElementById('file').addEventListener('change',function(e){"
        "var f=e.target.files[0];if(!f)return;var r=new FileReader();"
        "r.onload=function(){document.getElementById('record').value=r.result;};"
        "r.readAsText(f);});</script>")


def _legend() -> str:
    names = {**{s: s for s in COLOURS}, "none": "no catalogue massage there: decide each plan"}
    return '<div class="legend">' + "".join(
        f'<div><span style="background:{colour}"></span>{names[status]}</div>'
        for status, colour in COLOURS.items()) + (
        "<div>Drawn facing the patient: the right leg is on the left of the picture.</div>"
        "</div>")
