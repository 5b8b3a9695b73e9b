"""A griffe extension for the documentation site (mkdocs.yml): nnzoo's docstrings write their equations as
reStructuredText (``.. math::`` blocks, ``:math:`x``` roles) and name objects with ``:class:``/``:func:``/
``:meth:`` roles, as textbooks and Sphinx do; the site's Markdown renders them as KaTeX maths and code."""

from __future__ import annotations

import re
import textwrap

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|obj|exc):`~?([^`]+)`")
INLINE_MATH = re.compile(r":math:`([^`]+)`")


def markdown_maths(text: str) -> str:
    """``.. math::`` blocks as ``$$ … $$`` (lines joined by ``\\\\`` inside ``aligned`` where the block aligns with
    ``&``), ``:math:`x``` as ``$x$``, the object roles as code."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != ".. math::":
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        body, i = [], i + 1
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(indent + " ")):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        maths = textwrap.dedent("\n".join(body)).strip()
        if "&" in maths:
            maths = "\\begin{aligned}\n" + maths + "\n\\end{aligned}"
        out += [f"{indent}$$", *(indent + row for row in maths.split("\n")), f"{indent}$$", ""]
    text = "\n".join(out)
    text = INLINE_MATH.sub(lambda m: f"${m.group(1)}$", text)
    return ROLE.sub(lambda m: f"`{m.group(1)}`", text)


class RestructuredMath(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_maths(obj.docstring.value)
