"""A report as a list of blocks, rendered to Markdown and to one self-contained HTML page.

Blocks: :class:`Heading`, :class:`Text`, :class:`Bullets`, :class:`Code`, :class:`Table`,
:class:`Image`, and :class:`Fold` (a section folded in the HTML). Images are PNG files written beside the page (``figures/``,
``diagnostics/``) and linked by relative paths, so the Markdown and the HTML
share them and the folder can be moved or committed as it is; the HTML page
needs nothing else (its style is inline, no scripts, no network).
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple
from urllib.parse import quote


class Heading(NamedTuple):
    text: str
    level: int = 2


class Text(NamedTuple):
    text: str


class Bullets(NamedTuple):
    items: list


class Code(NamedTuple):
    text: str


class Table(NamedTuple):
    columns: list
    rows: list  # list of lists of str
    caption: str = ""


class Image(NamedTuple):
    path: str  # relative to the page
    caption: str


class Fold(NamedTuple):
    """A section folded in the HTML (``<details>``, listed in the page's contents); in Markdown a
    pointer to the HTML page, or the blocks themselves with ``in_markdown``."""

    title: str
    blocks: list
    in_markdown: bool = False


#: A ``<`` that could open raw HTML or an autolink in Markdown (a tag, ``</``, ``<!``, ``<?``, ``<scheme:``).
_MD_TAG = re.compile(r"<(?=[A-Za-z/!?])")


def _md_text(value) -> str:
    """Text quoted into Markdown (a model path, a method, an error): on one line, and no ``<`` that
    could start raw HTML, which Markdown viewers render (``< 1`` and ``<1`` stay as they are)."""
    return _MD_TAG.sub("&lt;", " ".join(str(value).splitlines()))


def _md_cell(value) -> str:
    """:func:`_md_text` with its pipes escaped, so that it stays one table cell."""
    return _md_text(value).replace("|", "\\|")


def _md_code(text: str) -> str:
    """A fenced code block that its text cannot close: the fence is longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _anchor(text: str) -> str:
    return "s-" + "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def to_markdown(blocks, html_name: str = "report.html") -> str:
    out = []
    for b in blocks:
        if isinstance(b, Fold):
            if b.in_markdown:
                out.append(to_markdown([Heading(b.title, 2), *b.blocks], html_name).rstrip("\n"))
            else:
                out.append(f"## {_md_text(b.title)}\n\nFolded in [{html_name}]({html_name}) (every table and figure there).")
        elif isinstance(b, Heading):
            out.append("#" * b.level + " " + _md_text(b.text))
        elif isinstance(b, Text):
            out.append(_md_text(b.text))
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {_md_cell(i)}" for i in b.items))
        elif isinstance(b, Code):
            out.append(_md_code(b.text))
        elif isinstance(b, Table):
            lines = ([f"*{_md_text(b.caption)}*", ""] if b.caption else []) + [
                "| " + " | ".join(_md_cell(c) for c in b.columns) + " |",
                "|" + "|".join("---" for _ in b.columns) + "|",
            ]
            lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif isinstance(b, Image):
            alt = _md_text(b.caption).replace("[", "(").replace("]", ")")
            out.append(f"![{alt}]({quote(b.path)})\n\n*{_md_text(b.caption)}*")
        else:
            raise TypeError(f"unknown block {b!r}")
    return "\n\n".join(out) + "\n"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; } td:nth-child(-n+3) { text-align: left; }
tr.flagged td { color: #888; background: #fff6f0; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: 0.3em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
details { margin: 0.8em 0; } summary { font-size: 1.3em; font-weight: bold; cursor: pointer; }
nav { background: #f6f6f6; padding: 0.4em 1em; margin-bottom: 1em; }
"""


def to_html(blocks, title: str) -> str:
    """One self-contained page: a table of contents (the level-2 headings and folds), then the blocks."""
    toc = [b.text if isinstance(b, Heading) else b.title for b in blocks
           if (isinstance(b, Heading) and b.level == 2) or isinstance(b, Fold)]
    nav = ("<nav><strong>Contents</strong><ul>" + "".join(
        f'<li><a href="#{_anchor(t)}">{html.escape(t)}</a></li>' for t in toc) + "</ul></nav>") if toc else ""
    body = _html_blocks(blocks)
    if body and body[0].startswith("<h1"):
        body.insert(1, nav)
    else:
        body.insert(0, nav)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _html_blocks(blocks) -> list[str]:
    body = []
    for b in blocks:
        if isinstance(b, Fold):
            body.append(f'<details id="{_anchor(b.title)}"><summary>{html.escape(b.title)}</summary>\n'
                        + "\n".join(_html_blocks(b.blocks)) + "\n</details>")
        elif isinstance(b, Heading):
            ident = f' id="{_anchor(b.text)}"' if b.level == 2 else ""
            body.append(f"<h{b.level}{ident}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Text):
            body.append(f"<p>{html.escape(b.text)}</p>")
        elif isinstance(b, Bullets):
            body.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Code):
            body.append(f"<pre>{html.escape(b.text)}</pre>")
        elif isinstance(b, Table):
            flag_at = b.columns.index("flag") if "flag" in b.columns else None
            rows = []
            for row in b.rows:
                cls = ' class="flagged"' if flag_at is not None and row[flag_at] else ""
                rows.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>")
            cap = f"<caption>{html.escape(b.caption)}</caption>" if b.caption else ""
            head = "<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in b.columns) + "</tr>"
            body.append(f"<table>{cap}<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>")
        elif isinstance(b, Image):
            body.append(f'<figure><img src="{html.escape(b.path)}" alt="{html.escape(b.caption)}">'
                        f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
        else:
            raise TypeError(f"unknown block {b!r}")
    return body
