"""What a package index and a user would read: the licence, the metadata, the changelog."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import gristmill

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_license_file_is_the_apache_2_text_the_metadata_names() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert PROJECT["license"] == "Apache-2.0"
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_classifiers_name_every_supported_python_from_the_minimum() -> None:
    assert PROJECT["requires-python"] == ">=3.11"
    versions = {
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert versions == {"3.11", "3.12", "3.13", "3.14"}


def test_project_urls_point_at_the_source_the_docs_the_issues_and_the_changelog() -> None:
    urls = PROJECT["urls"]
    assert set(urls) >= {"Homepage", "Source", "Documentation", "Issues", "Changelog"}
    assert all(url.startswith("https://") for url in urls.values())


def test_the_changelog_has_a_dated_section_for_this_version_below_unreleased() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    assert headings[0] == ("Unreleased", "")
    released = dict(headings[1:])
    assert gristmill.__version__ in released
    assert released[gristmill.__version__]  # a date
