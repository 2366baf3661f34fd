"""Fixtures for the GitHub tracker: a fake GitHub on a local port, and a repo using it."""

from __future__ import annotations

from typing import Any

import pytest
from fakegithub import TOKEN, FakeGitHub, LoadRuntime
from pytest_httpserver import HTTPServer

from pirun.runtime import Runtime


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeGitHub:
    return FakeGitHub(httpserver, token=TOKEN)


@pytest.fixture
def gh_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    # Only the plugins under test: others may be half-written in this tree.
    monkeypatch.setenv("PIRUN_PLUGINS", "github,textdeps")


@pytest.fixture
def load(repo: Any, gh_env: None, fake: FakeGitHub) -> LoadRuntime:
    """A Runtime of the test repo with `tracker: github` pointed at the fake server."""

    def load(**github: Any) -> Runtime:
        values = {"repo": "octo/app", "api_url": fake.api_url, **github}
        repo.write_config(tracker="github", github=values)
        return Runtime.load(repo.path)

    return load
