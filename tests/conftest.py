"""Puts this directory on sys.path, so every test directory can `import helpers`.

(pytest's default import mode already does so when it imports this file, as it does
for each test directory's own helper module; saying it here keeps it so whatever
the import mode.)"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_sessionstart(session: object) -> None:
    """Install the Jira example (editable) before any test worker starts: an editable
    install is a `.pth` file, which only interpreters started after it read, so a
    worker already running would find its entry point and fail to import it."""
    if hasattr(getattr(session, "config", None), "workerinput"):
        return  # a pytest-xdist worker: the controller installed it before starting us
    from helpers import install_example

    install_example("pirun_jira_fake", Path(__file__).resolve().parents[1] / "examples"
                    / "pirun-jira", editable=True)
