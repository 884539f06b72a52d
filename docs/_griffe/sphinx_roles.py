"""Griffe extension: render Sphinx cross-reference roles found in gristmill docstrings.

The source docstrings use roles such as ``:class:`~gristmill.WorkGrinder```, which
read well in ``help()`` and IDEs. Markdown has no such syntax, so this turns each
role into an *optional* mkdocs-autorefs link: it points at the object's API entry
when the object is documented, and renders as plain code when it is not (a
private module, the standard library), so ``mkdocs build --strict`` never fails
on it. A leading ``~`` shows only the last name, as in Sphinx.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(class|meth|func|mod|data|attr|exc|obj):`(~?)([\w.]+)`(?:\\ )?")


def _identifier(target: str, obj: griffe.Object, role: str) -> str:
    """Qualify a bare name the way Sphinx would: methods on the class, others in the module."""
    if "." in target:
        return target
    if role == "meth" and obj.is_class:
        return f"{obj.path}.{target}"
    return f"{obj.module.path}.{target}"


def render_roles(text: str, obj: griffe.Object) -> str:
    """Return ``text`` with every Sphinx role replaced by an optional autorefs link."""

    def replace(match: re.Match[str]) -> str:
        role, short, target = match.groups()
        title = html.escape(target.rsplit(".", 1)[-1] if short else target)
        identifier = html.escape(_identifier(target, obj, role), quote=True)
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

    return _ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrite roles in every docstring as soon as its object is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = render_roles(obj.docstring.value, obj)
