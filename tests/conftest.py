"""Puts this directory on sys.path, so every test directory can `import helpers`.

(pytest's default import mode already does so when it imports this file, as it does
for each test directory's own helper module; saying it here keeps it so whatever
the import mode.)"""

from __future__ import annotations

import site
import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_configure(config: object) -> None:
    """Install the Jira example (editable) before any test worker starts (xdist
    starts them when the session starts, after this, with this process's sys.path):
    every pirun loads every installed plugin, so a worker that saw its entry point
    but could not import it would fail every test that loads a runtime."""
    if hasattr(config, "workerinput"):
        # A pytest-xdist worker gets the controller's sys.path as it was when the
        # controller started, before the install: read the `.pth` files again.
        for directory in site.getsitepackages():
            site.addsitedir(directory)
        return
    from helpers import install_example

    install_example("pirun_jira_fake", Path(__file__).resolve().parents[1] / "examples"
                    / "pirun-jira", editable=True)
