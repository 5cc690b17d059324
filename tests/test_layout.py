"""How the test suite finds its modules, checked (pyproject's [tool.pytest.ini_options]).

Test directories are not packages: pytest imports each test module by its file name, with
its directory on ``sys.path``. Two test modules of one name in different directories
could not be collected in one run, and a module importing ``conftest`` gets whichever
conftest.py was imported last (tests/ui has one too): ``pytest tests/ui tests/cli`` failed
that way. Shared helpers are plain modules in tests/ (pythonpath).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).parent
SOURCES = sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def test_module_names_are_unique_across_directories() -> None:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in SOURCES:
        if path.name != "conftest.py":
            by_name[path.stem].append(str(path.relative_to(TESTS)))
    assert {name: paths for name, paths in by_name.items() if len(paths) > 1} == {}


def test_no_module_imports_a_conftest() -> None:
    importing = re.compile(r"^\s*(from\s+conftest\s+import|import\s+conftest\b)", re.M)
    offenders = [str(p.relative_to(TESTS)) for p in SOURCES if importing.search(p.read_text())]
    assert offenders == [], "import from processes, smtp_servers, waiting, clock... instead"


def test_no_test_directory_is_a_package() -> None:
    """An __init__.py would change every module's name (and hide tests/cli/helpers.py)."""
    assert [str(p.relative_to(TESTS)) for p in SOURCES if p.name == "__init__.py"] == []
