"""Documents to prose: plain text, Markdown and reStructuredText become a list of paragraphs of normalised text.

Markup is read by maintained parsers, `markdown-it-py` (CommonMark with tables) and `docutils`, never by regular
expressions over the text. What is not prose (code blocks, literal blocks, doctest sessions, tables, raw HTML,
comments) is dropped unless `keep_code`, and then kept as its own paragraph. Sphinx sources use roles and
directives docutils does not know (`:func:`, `.. function::`, `.. versionadded::`); they are registered before a
document is parsed, roles as their visible text and directives as containers of their content, so that the prose
of a function's description is kept and no document fails to parse.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles
from markdown_it import MarkdownIt

from .engine import DocumentsPipeline, PipelineStep


Format = Literal["text", "markdown", "rst"]
FORMATS = ("auto", "text", "markdown", "rst")
DROP_EMPTY = "empty_after_cleaning"
MARKDOWN_SUFFIXES = (".md", ".markdown")
RST_SUFFIXES = (".rst",)
# directives whose content is code or an index, never prose
CODE_DIRECTIVES = frozenset(
    ["code-block", "sourcecode", "code", "literalinclude", "productionlist", "doctest", "testcode", "testsetup"]
    + ["testoutput", "testcleanup", "highlight", "toctree", "index", "module", "currentmodule", "moduleauthor"]
    + ["sectionauthor", "audit-event", "opcode", "cmdoption", "option", "envvar", "program", "raw", "include"]
)
_ROLE = re.compile(r":([A-Za-z][\w.+-]*(?::[A-Za-z][\w.+-]*)*):`")
_DIRECTIVE = re.compile(r"^\s*\.\. ([A-Za-z][\w:.+-]*)::", re.MULTILINE)
_TARGET = re.compile(r"^(.*?)\s*<[^<>]*>$", re.DOTALL)
_DOCUTILS_SETTINGS = {
    "report_level": 5,  # never print, never halt: a Sphinx-only construct is not an error here
    "halt_level": 5,
    "warning_stream": False,
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "syntax_highlight": "none",
}
_SKIPPED_RST = (
    nodes.table,
    nodes.system_message,
    nodes.comment,
    nodes.raw,
    nodes.target,
    nodes.substitution_definition,
)
_CODE_RST = (nodes.literal_block, nodes.doctest_block)


def detect_format(path: str | Path) -> Format:
    """The markup of a file from its suffixes (`x.rst.txt` is reST, as Sphinx publishes its sources)."""
    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    if any(suffix in RST_SUFFIXES for suffix in suffixes):
        return "rst"
    if any(suffix in MARKDOWN_SUFFIXES for suffix in suffixes):
        return "markdown"
    return "text"


def normalize_whitespace(text: str) -> str:
    """Runs of whitespace (hard-wrapped lines included) as one space, none at the ends."""
    return " ".join(text.split())


def code_text(code: str) -> str:
    """A code block as a paragraph: its lines kept, trailing whitespace and blank lines removed."""
    return "\n".join(line.rstrip() for line in code.split("\n") if line.strip())


def clean_document(text: str, markup: Format, keep_code: bool = False) -> list[str]:
    """The document's paragraphs, in order: prose with its whitespace normalised, and with `keep_code` code blocks
    (`code_text`); empty paragraphs are left out."""
    if markup == "markdown":
        paragraphs = _markdown_paragraphs(text, keep_code)
    elif markup == "rst":
        paragraphs = _rst_paragraphs(text, keep_code)
    else:
        paragraphs = [normalize_whitespace(paragraph) for paragraph in re.split(r"\n\s*\n", text)]
    return [paragraph for paragraph in paragraphs if paragraph]


def _markdown_paragraphs(text: str, keep_code: bool) -> list[str]:
    paragraphs, in_table = [], 0
    for token in MarkdownIt("commonmark", {"html": True}).enable("table").parse(text):
        if token.type in ("table_open", "table_close"):
            in_table += 1 if token.type == "table_open" else -1
        elif token.type in ("fence", "code_block"):
            if keep_code:
                paragraphs.append(code_text(token.content))
        elif token.type == "inline" and not in_table:
            paragraphs.append(normalize_whitespace("".join(_markdown_inline_text(token.children or []))))
    return paragraphs


def _markdown_inline_text(children) -> list[str]:
    parts = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.extend(_markdown_inline_text(child.children or []))
    return parts


def _sphinx_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """A role docutils does not know, as the text a reader sees: `title <target>` shows the title, `~a.b.c` shows
    `c`."""
    shown = _TARGET.match(text)
    shown = shown.group(1) if shown else text
    if shown.startswith("~"):
        shown = shown[1:].rsplit(".", 1)[-1]
    return [nodes.inline(rawtext, shown.lstrip("!"))], []


class _ContentDirective(Directive):
    """A directive docutils does not know: its arguments (a signature, a version) are dropped, its content is
    parsed as the body it is."""

    optional_arguments = 100
    final_argument_whitespace = True
    has_content = True
    option_spec = None

    def run(self):
        container = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, container)
        return [container]


class _CodeDirective(Directive):
    """A directive whose content is code (or an index): a literal block of the content."""

    optional_arguments = 100
    final_argument_whitespace = True
    has_content = True
    option_spec = None

    def run(self):
        return [nodes.literal_block(text="\n".join(self.content))] if self.content else []


def _known_directive(name: str) -> bool:
    return name in directives._directives or name in directives._directive_registry


def _register_sphinx_markup(text: str) -> None:
    """Register the roles and directives of `text` that docutils does not know (docutils' registries are global)."""
    for name in set(_ROLE.findall(text)):
        if name not in roles._roles and name not in roles._role_registry:
            roles.register_local_role(name, _sphinx_role)
    for name in set(_DIRECTIVE.findall(text)):
        if not _known_directive(name):
            kind = _CodeDirective if name.split(":")[-1] in CODE_DIRECTIVES else _ContentDirective
            directives.register_directive(name, kind)


def _rst_paragraphs(text: str, keep_code: bool) -> list[str]:
    _register_sphinx_markup(text)
    tree = publish_doctree(text, settings_overrides=_DOCUTILS_SETTINGS)
    paragraphs = []

    def visit(node) -> None:
        if isinstance(node, _SKIPPED_RST):
            return
        if isinstance(node, _CODE_RST):
            if keep_code:
                paragraphs.append(code_text(node.astext()))
            return
        if isinstance(node, (nodes.paragraph, nodes.title, nodes.term)):
            paragraphs.append(normalize_whitespace(node.astext()))
            return
        for child in node.children:
            if isinstance(child, nodes.Element):
                visit(child)

    visit(tree)
    return paragraphs


class Clean(PipelineStep):
    """Each document's text to its paragraphs (`clean_document`) in `metadata["paragraphs"]`; a document left empty
    is dropped and counted (`empty_after_cleaning`). A document marked `as_is` is one paragraph, unchanged."""

    name = "clean"
    type = "cleaning"

    def __init__(self, keep_code: bool):
        super().__init__()
        self.keep_code = keep_code

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            as_is = doc.metadata.get("as_is", False)
            paragraphs = [doc.text] if as_is else clean_document(doc.text, doc.metadata["markup"], self.keep_code)
            if not any(paragraph.strip() for paragraph in paragraphs):
                self.stat_update(DROP_EMPTY)
                continue
            doc.metadata["paragraphs"] = paragraphs
            yield doc
