"""Pure guard detection (gristmill._main_guard.unguarded): is a line under ``if __name__``?"""

from __future__ import annotations

from gristmill._main_guard import unguarded

SOURCE = """\
import asyncio

async def main():
    pass

asyncio.run(main())

if __name__ == "__main__":
    asyncio.run(main())

if "__main__" == __name__ and True:
    asyncio.run(main())

if __name__ != "__main__":
    pass
else:
    asyncio.run(main())
"""


def _line(text: str, occurrence: int) -> int:
    """The 1-based line number of the ``occurrence``-th line equal to ``text`` (stripped)."""
    lines = [n for n, line in enumerate(SOURCE.splitlines(), 1) if line.strip() == text]
    return lines[occurrence]


def test_a_top_level_call_outside_any_guard_is_unguarded() -> None:
    assert unguarded(SOURCE, _line("asyncio.run(main())", 0))


def test_a_call_inside_the_usual_guard_is_guarded() -> None:
    assert not unguarded(SOURCE, _line("asyncio.run(main())", 1))


def test_a_guard_written_the_other_way_round_counts() -> None:
    assert not unguarded(SOURCE, _line("asyncio.run(main())", 2))


def test_the_else_branch_of_a_negated_guard_counts() -> None:
    assert not unguarded(SOURCE, _line("asyncio.run(main())", 3))


def test_source_that_does_not_parse_gets_the_benefit_of_the_doubt() -> None:
    assert not unguarded("def broken(:\n    pass\n", 1)


def test_an_if_that_does_not_test_the_module_name_is_no_guard() -> None:
    assert unguarded("import os\nif os.environ:\n    start()\n", 3)
