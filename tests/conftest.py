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
