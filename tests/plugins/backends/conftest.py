"""Fixtures for the session backend tests: a loaded runtime and its backend."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import install_example

from pirun.protocols import SessionBackend
from pirun.runtime import Runtime

#: Short enough to keep the tests quick, long enough for a well-behaved process to
#: exit on SIGTERM or SIGHUP before anything is SIGKILLed.
TEST_GRACE = 0.5


@pytest.fixture(autouse=True)
def only_backend_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests are about the two backends: load them through their entry points
    # like any plugin, but not the rest of the bundled plugins.
    monkeypatch.setenv("PIRUN_PLUGINS", "tmux,process")


@pytest.fixture
def tmux_socket(tmux_socket: str) -> Iterator[str]:
    """The shared private socket, whose file is also removed at the end: tmux 3.3a
    leaves the socket file behind when its server exits."""
    yield tmux_socket
    subprocess.run(["tmux", "-L", tmux_socket, "kill-server"], capture_output=True)
    socket_dir = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
    (socket_dir / tmux_socket).unlink(missing_ok=True)


@pytest.fixture
def runtime(repo: Any, backend_config: dict[str, Any]) -> Iterator[Runtime]:
    """The runtime of a repo configured for each backend in turn (tmux on a private
    socket); every session left at the end is killed."""
    repo.write_config(**backend_config)
    rt = Runtime.load(repo.path)
    yield rt
    if "backend" in rt.__dict__:  # built by the test
        backend = rt.backend
        backend.grace = TEST_GRACE  # type: ignore[attr-defined]
        for name in backend.list(""):
            backend.kill(name)


@pytest.fixture
def backend(runtime: Runtime) -> SessionBackend:
    backend = runtime.backend
    backend.grace = TEST_GRACE  # type: ignore[attr-defined]
    return backend


@pytest.fixture
def tmux_runtime(repo: Any, tmux_socket: str) -> Runtime:
    """A runtime using tmux on a private socket (whose server is killed at the end)."""
    repo.write_config(backend="tmux", tmux={"socket_name": tmux_socket})
    return Runtime.load(repo.path)


@pytest.fixture
def process_runtime(repo: Any) -> Runtime:
    repo.write_config(backend="process")
    return Runtime.load(repo.path)


@pytest.fixture
def process_backend(process_runtime: Runtime) -> Iterator[Any]:
    """The process backend; every session left at the end is killed."""
    backend = process_runtime.backend
    backend.grace = TEST_GRACE  # type: ignore[attr-defined]
    yield backend
    for name in backend.list(""):
        backend.kill(name)


SCREEN_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pirun-screen"


@pytest.fixture(scope="session")
def screen_plugin_installed() -> None:
    """Install the example third-party screen plugin the way a user would."""
    if shutil.which("screen") is None:
        pytest.skip("GNU screen is not installed")
    install_example("pirun_screen", SCREEN_EXAMPLE)


@pytest.fixture(params=["tmux", "process", "screen"])
def backend_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Each backend in turn: both bundled ones and the external screen example,
    which must pass the same tests."""
    if request.param == "tmux":
        return {"backend": "tmux", "tmux": {"socket_name": request.getfixturevalue("tmux_socket")}}
    if request.param == "screen":
        request.getfixturevalue("screen_plugin_installed")
        request.getfixturevalue("monkeypatch").setenv("PIRUN_PLUGINS", "tmux,process,screen")
        # Sessions left over are killed by the `runtime` fixture, as for the others.
        return {"backend": "screen", "screen": {"socket_dir": str(tmp_path / "screens")}}
    return {"backend": "process"}
