"""The docs site's griffe extension turns Sphinx roles in docstrings into optional links.

The strict ``mkdocs build`` in CI checks the site itself; it cannot notice a role
left as literal text, which is what these tests pin down.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

griffe = pytest.importorskip("griffe")  # the docs extra

EXTENSION = Path(__file__).resolve().parent.parent / "docs" / "_griffe" / "sphinx_roles.py"


def _extension() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sphinx_roles", EXTENSION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _class_in(module_path: str, name: str) -> Any:
    """Return a griffe class ``name`` inside a module at ``module_path``."""
    module = griffe.Module(module_path.rsplit(".", 1)[-1])
    if "." in module_path:
        parent = griffe.Module(module_path.split(".")[0])
        parent.set_member(module.name, module)
    cls = griffe.Class(name)
    module.set_member(name, cls)
    return cls


def test_a_qualified_role_becomes_an_optional_link_titled_with_the_last_name() -> None:
    cls = _class_in("gristmill.hooks", "Hooks")
    text = _extension().render_roles("See :class:`~gristmill.WorkGrinder` now.", cls)
    assert text == (
        'See <autoref identifier="gristmill.WorkGrinder" optional>'
        "<code>WorkGrinder</code></autoref> now."
    )


def test_a_role_without_tilde_keeps_the_full_name() -> None:
    cls = _class_in("gristmill.hooks", "Hooks")
    text = _extension().render_roles(":mod:`gristmill.prometheus`", cls)
    assert "<code>gristmill.prometheus</code>" in text
    assert ":mod:" not in text


def test_bare_names_are_qualified_like_sphinx_does() -> None:
    render = _extension().render_roles
    cls = _class_in("gristmill.testing", "FakeClock")
    assert 'identifier="gristmill.testing.FakeClock.advance"' in render(":meth:`advance`", cls)
    assert 'identifier="gristmill.testing.Clock"' in render(":class:`Clock`", cls)


def test_an_escaped_plural_suffix_is_absorbed() -> None:
    cls = _class_in("gristmill._stats", "ManagerStats")
    text = _extension().render_roles(r"these are :class:`~typing.TypedDict`\ s", cls)
    assert text.endswith("<code>TypedDict</code></autoref>s")


def test_every_public_name_has_an_api_reference_entry() -> None:
    import gristmill

    docs = Path(__file__).resolve().parent.parent / "docs" / "api"
    text = "\n".join(page.read_text() for page in docs.glob("*.md"))
    documented = set(re.findall(r"^::: gristmill\.(\w+)\s*$", text, re.MULTILINE))
    for module in ("hooks", "backends"):  # whole-module pages cover their names
        if module in documented:
            documented |= set(importlib.import_module(f"gristmill.{module}").__all__)
    missing = [
        name for name in gristmill.__all__ if name != "__version__" and name not in documented
    ]
    assert missing == []


ROOT = Path(__file__).resolve().parent.parent
INTERNAL = ("payload_dumps", "payloads_cross_process", "progress_board", "supports_run_timeout")


def _hidden(name: str) -> bool:
    """Whether the API reference's mkdocstrings filters (in mkdocs.yml) leave ``name`` out."""
    config = (ROOT / "mkdocs.yml").read_text()
    listing = re.search(r"^(\s+)filters:\n((?:\1  - \"[^\"]+\"\n)+)", config, re.MULTILINE)
    assert listing is not None, "mkdocs.yml has no list of mkdocstrings filters"
    patterns = re.findall(r'- "([^"]+)"', listing.group(2))
    return any(p.startswith("!") and re.search(p[1:], name) for p in patterns)


def test_the_api_reference_leaves_out_internal_attributes() -> None:
    import gristmill

    for name in INTERNAL:
        assert hasattr(gristmill.LeasedExecutorManager, name)  # still there for the grinder
        assert _hidden(name), name


def test_the_api_reference_keeps_the_public_members() -> None:
    public = ["running", "max_pools", "clock", "acquire", "stats", "start", "stop", "backend"]
    assert [name for name in public if _hidden(name)] == []
    assert _hidden("_release_lease")


def test_the_site_serves_the_mermaid_copy_that_make_docs_fetches() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    makefile = (ROOT / "Makefile").read_text()
    fetched = re.search(r"^MERMAID_JS := docs/(\S+)$", makefile, re.MULTILINE)
    assert fetched is not None
    assert f"\n  - {fetched.group(1)}\n" in config
    assert f"docs/{fetched.group(1).rsplit('/', 1)[0]}/" in (ROOT / ".gitignore").read_text()
