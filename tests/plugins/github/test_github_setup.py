"""Which repository, which token, which endpoint."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fakegithub import TOKEN, FakeGitHub, LoadRuntime
from pirun_github.auth import NO_TOKEN, find_token
from pirun_github.client import graphql_url
from pirun_github.remote import parse_remote_url, resolve_repo

from pirun.errors import ConfigError, TrackerError
from pirun.runtime import Runtime

# -- repository ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/octo/app.git",
        "https://github.com/octo/app",
        "https://github.com/octo/app/",
        "http://github.com/octo/app.git",
        "https://user:s3cret@github.com/octo/app.git",
        "ssh://git@github.com/octo/app.git",
        "ssh://git@github.com:22/octo/app",
        "git://github.com/octo/app.git",
        "git@github.com:octo/app.git",
        "git@github.com:octo/app",
        "github.com:octo/app.git",
        "git@ghe.example.com:octo/app.git",
        "https://ghe.example.com/octo/app.git",
    ],
)
def test_remote_url_forms(url: str) -> None:
    assert parse_remote_url(url) == "octo/app"


def test_remote_names_with_dots_and_dashes() -> None:
    assert parse_remote_url("git@github.com:my-org/my.repo_2.git") == "my-org/my.repo_2"


@pytest.mark.parametrize(
    "url", ["", "/srv/git/app.git", "../app", "https://github.com/app", "file:///app",
            "git@github.com:octo/a b.git"],
)
def test_not_github_remotes(url: str) -> None:
    assert parse_remote_url(url) is None


def _config(test_repo, /, **values):
    test_repo.write_config(tracker="github", **values)
    return Runtime.load(test_repo.path).config


def test_repo_from_origin_remote(repo, gh_env) -> None:
    repo.git("remote", "add", "origin", "git@github.com:octo/from-remote.git")
    assert resolve_repo(_config(repo)) == "octo/from-remote"


def test_config_repo_beats_origin(repo, gh_env) -> None:
    repo.git("remote", "add", "origin", "git@github.com:octo/from-remote.git")
    assert resolve_repo(_config(repo, github={"repo": "octo/configured"})) == "octo/configured"


def test_cli_repo_beats_config(repo, gh_env) -> None:
    # `--repo` lands in the top-level `repo` key.
    repo.git("remote", "add", "origin", "git@github.com:octo/from-remote.git")
    config = _config(repo, repo="octo/cli", github={"repo": "octo/configured"})
    assert resolve_repo(config) == "octo/cli"


def test_no_repository_at_all(repo, gh_env) -> None:
    with pytest.raises(ConfigError, match=r"set github.repo in .pirun.yaml, pass --repo"):
        resolve_repo(_config(repo))


def test_unusable_remote_is_named_without_its_credentials(repo, gh_env) -> None:
    repo.git("remote", "add", "origin", "https://me:s3cret@example.com/just-one")
    with pytest.raises(ConfigError) as info:
        resolve_repo(_config(repo))
    assert "https://***@example.com/just-one" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_invalid_configured_repo(repo, gh_env) -> None:
    with pytest.raises(ConfigError, match=r"'github\.repo' must be owner/name"):
        resolve_repo(_config(repo, github={"repo": "just-a-name"}))


def test_origin_repo_is_used_for_fetching(repo, gh_env, fake: FakeGitHub) -> None:
    repo.git("remote", "add", "origin", "https://github.com/octo/app.git")
    fake.add("octo/app", 5, "From origin")
    fake.install()
    repo.write_config(tracker="github", github={"api_url": fake.api_url})
    rt = Runtime.load(repo.path)
    assert rt.fetch_issue("5").title == "From origin"


# -- endpoints -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "graphql"),
    [
        ("https://api.github.com", "https://api.github.com/graphql"),
        ("https://api.github.com/", "https://api.github.com/graphql"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com/api/graphql"),
        ("http://localhost:8080", "http://localhost:8080/graphql"),
    ],
)
def test_graphql_endpoint(api: str, graphql: str) -> None:
    assert graphql_url(api) == graphql


@pytest.mark.parametrize("api", ["api.github.com", "ftp://example.com", "https://"])
def test_api_url_must_be_http(load: LoadRuntime, api: str) -> None:
    rt = load(api_url=api)
    with pytest.raises(ConfigError, match=r"'github\.api_url' must be an http\(s\) URL"):
        rt.fetch_issues(["1"])


# -- token ----------------------------------------------------------------------------------


def _fake_gh(directory: Path, script: str) -> Path:
    directory.mkdir(exist_ok=True)
    gh = directory / "gh"
    gh.write_text("#!/bin/sh\n" + script)
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    return directory


def test_gh_token_comes_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(_fake_gh(tmp_path / "bin", "echo from-gh\n")))
    env = {"GH_TOKEN": "from-gh-token", "GITHUB_TOKEN": "from-github-token"}
    assert find_token("https://api.github.com", env) == "from-gh-token"


def test_github_token_is_second(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(_fake_gh(tmp_path / "bin", "echo from-gh\n")))
    env = {"GH_TOKEN": "  ", "GITHUB_TOKEN": "from-github-token"}
    assert find_token("https://api.github.com", env) == "from-github-token"


def test_gh_auth_token_is_last(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = _fake_gh(tmp_path / "bin", f'echo "$@" > {tmp_path}/args\necho gho_from_gh\n')
    monkeypatch.setenv("PATH", str(bin_dir))
    assert find_token("https://api.github.com", {}) == "gho_from_gh"
    assert (tmp_path / "args").read_text().split() == ["auth", "token"]
    assert find_token("https://ghe.example.com/api/v3", {}) == "gho_from_gh"
    assert (tmp_path / "args").read_text().split() == [
        "auth", "token", "--hostname", "ghe.example.com"
    ]


def test_gh_not_logged_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    script = "echo 'no oauth token found for github.com' >&2\nexit 1\n"
    monkeypatch.setenv("PATH", str(_fake_gh(tmp_path / "bin", script)))
    with pytest.raises(TrackerError, match=r"^no GitHub token"):
        find_token("https://api.github.com", {})


def test_no_token_says_how_to_set_one(
    load: LoadRuntime, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rt = load()
    monkeypatch.delenv("GH_TOKEN")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no gh either
    with pytest.raises(TrackerError) as info:
        rt.fetch_issues(["1"])
    assert str(info.value) == NO_TOKEN
    assert NO_TOKEN == "no GitHub token: set GH_TOKEN or GITHUB_TOKEN, or run `gh auth login`"
    assert info.value.exit_code == 1
    assert fake.server.log == []


def test_token_is_sent_as_bearer_with_api_headers(load: LoadRuntime, fake: FakeGitHub,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "not-this-one")  # GH_TOKEN wins
    fake.add("octo/app", 1)
    fake.install()
    load().fetch_issue("1")
    (request,) = fake.requests()
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert request.headers["User-Agent"].startswith("pirun/")
