"""Refresh the generated parts of README.md: the rule table (from the shapes) and, given a
benchmark output file, the performance figures.

Usage: python tools/update_readme.py [BENCHMARK_OUTPUT]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from kgmassage.rules import rule_table

README = Path(__file__).resolve().parent.parent / "README.md"


def replace(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.DOTALL)
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main(argv: list[str]) -> None:
    text = replace(README.read_text(encoding="utf-8"), "rules", rule_table())
    if argv:
        figures = Path(argv[0]).read_text(encoding="utf-8").rstrip("\n")
        text = replace(text, "bench", figures + "\n")  # the script prints Markdown
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
