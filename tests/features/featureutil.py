"""Helpers shared by the feature tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import wait_until as wait_until  # the tests import it from here


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None
