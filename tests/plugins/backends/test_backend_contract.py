"""`pirun.testing.BackendContract` for every bundled backend and the screen example,
each built through the plugin machinery from a `.pirun.yaml`."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import TEST_GRACE
from pirun.protocols import SessionBackend
from pirun.runtime import Runtime
from pirun.testing import BackendContract


def _backend(repo: Any, **config: Any) -> SessionBackend:
    repo.write_config(**config)
    backend = Runtime.load(repo.path).backend
    backend.grace = TEST_GRACE  # type: ignore[attr-defined]
    return backend


class TestTmux(BackendContract):
    @pytest.fixture
    def contract_backend(self, repo: Any, tmux_socket: str) -> SessionBackend:
        return _backend(repo, backend="tmux", tmux={"socket_name": tmux_socket})


class TestProcess(BackendContract):
    accepts_input = False

    @pytest.fixture
    def contract_backend(self, repo: Any) -> SessionBackend:
        return _backend(repo, backend="process")


class TestRay(BackendContract):
    """The ray backend's sessions are local exec wrappers (the agent runs on the
    cluster), so the contract needs no cluster."""

    accepts_input = False

    @pytest.fixture
    def contract_backend(self, repo: Any, monkeypatch: pytest.MonkeyPatch) -> SessionBackend:
        pytest.importorskip("ray")
        monkeypatch.setenv("PIRUN_PLUGINS", "tmux,process,ray")
        return _backend(repo, backend="ray")


class TestScreenExample(BackendContract):
    @pytest.fixture
    def contract_backend(
        self, repo: Any, tmp_path: Any, screen_plugin_installed: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> SessionBackend:
        monkeypatch.setenv("PIRUN_PLUGINS", "tmux,process,screen")
        return _backend(repo, backend="screen", screen={"socket_dir": str(tmp_path / "screens")})
