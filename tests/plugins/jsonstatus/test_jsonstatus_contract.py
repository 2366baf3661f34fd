"""`pirun.testing.StatusStoreContract` for the JSON status store."""

from __future__ import annotations

from typing import Any

import pytest

from pirun.protocols import StatusStore
from pirun.testing import StatusStoreContract


class TestJsonStatusStore(StatusStoreContract):
    @pytest.fixture
    def contract_store(self, pirun_runtime: Any) -> StatusStore:
        return pirun_runtime(store="json").store
