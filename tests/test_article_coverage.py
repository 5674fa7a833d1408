"""Coverage of the article: every claim it makes that a graph can hold is queryable structure.

``tests/data/article-claims.tsv`` lists the claims of the source article ("Is Massage Good for
Knee Pain?"), by section, each with a verbatim quote and the SPARQL ASK pattern that finds it in
the knowledge graph (ontology, claims and rules). Every ASK must be true on rdflib and pyoxigraph,
every quote must be in the article, and every sentence of the article must be covered by a
claim's quote or be listed below as holding no claim a graph can hold.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from records_helpers import HEADINGS

HERE = Path(__file__).resolve().parent
TABLE = HERE / "data" / "article-claims.tsv"
PREFIXES = """PREFIX km:   <https://w3id.org/kgmassage#>
PREFIX rdf:  <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX owl:  <http://www.w3.org/2002/07/owl#>
PREFIX obo:  <http://purl.obolibrary.org/obo/>
"""
#: Sentences of the article that state no claim a graph can hold (framing, not content).
NOT_A_CLAIM = {
    "Understanding the science behind this practice establishes its role as a supportive tool "
    "in pain management.": "a framing sentence; massage's role in pain management is C03/C06",
    "Massage directly impacts the body's physiological and neurological systems.":
        "an overview of the section; each system's mechanism is its own claim (C07-C28)",
    "Massage also prompts a systemic neurochemical response.":
        "an overview; the response is endorphin release and cortisol reduction (C22-C28)",
}


def _claims() -> list[dict[str, str]]:
    with TABLE.open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


CLAIMS = _claims()


def _normal(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip()


def test_the_table_is_well_formed() -> None:
    ids = [claim["id"] for claim in CLAIMS]
    assert len(ids) == len(set(ids)) >= 60
    for claim in CLAIMS:
        assert claim["section"] in HEADINGS, claim["id"]
        assert claim["claim"] and claim["quote"] and claim["ask"], claim["id"]
    assert {claim["section"] for claim in CLAIMS} == set(HEADINGS)


@pytest.mark.parametrize("engine", ["rdflib", "oxigraph"])
@pytest.mark.parametrize("claim", CLAIMS, ids=[c["id"] for c in CLAIMS])
def test_every_claim_is_in_the_graph(kb, claim: dict[str, str], engine: str) -> None:
    result = kb.query(PREFIXES + "ASK { " + claim["ask"] + " }", engine=engine)
    assert result.boolean is True, f"{claim['id']} ({claim['section']}): {claim['claim']}"


@pytest.fixture(scope="module")
def article(shared_dir: Path) -> str:
    return (shared_dir / "source" / "knee-massage-article.txt").read_text(encoding="utf-8")


def test_every_quote_is_in_the_article(article: str) -> None:
    text = _normal(article)
    missing = [claim["id"] for claim in CLAIMS if _normal(claim["quote"]) not in text]
    assert not missing, f"quotes not found in the article: {missing}"


def _sentences(article: str) -> list[tuple[str, str]]:
    """(section, sentence) for every sentence of the article's paragraphs."""
    section = HEADINGS[0]
    out = []
    for paragraph in article.splitlines():
        paragraph = _normal(paragraph)
        if not paragraph:
            continue
        if paragraph in HEADINGS:
            section = paragraph
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            out.append((section, sentence))
    return out


def test_every_sentence_of_the_article_is_covered(article: str) -> None:
    """The coverage figure: every sentence is covered by a claim of the table (in its own
    section) or is a framing sentence listed in NOT_A_CLAIM."""
    uncovered = []
    sentences = _sentences(article)
    for section, sentence in sentences:
        quotes = [_normal(c["quote"]) for c in CLAIMS if c["section"] == section]
        if not any(quote in sentence for quote in quotes) and sentence not in NOT_A_CLAIM:
            uncovered.append(f"[{section}] {sentence}")
    assert not uncovered, "sentences no claim covers:\n" + "\n".join(uncovered)
    assert len(sentences) >= 35
    claims_sentences = len(sentences) - len(NOT_A_CLAIM)
    assert claims_sentences >= 30 and len(CLAIMS) >= claims_sentences
