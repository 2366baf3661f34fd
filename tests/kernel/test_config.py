"""Tests for pirun.config: finding `.pirun.yaml`, reading it safely, validating every key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pirun.config import (
    KERNEL_OPTIONS,
    Config,
    Option,
    build_config,
    find_config_file,
    read_raw_config,
)
from pirun.errors import ConfigError
from pirun.runtime import Runtime

# Kernel defaults as documented; other kernel options may be added alongside them.
KNOWN_DEFAULTS = {
    "tracker": "local",
    "backend": "tmux",
    "repo": None,
    "base": None,
    "agent.preset": "pi",
    "agent.command": None,
    "agent.mode": None,
    "parallel.max_concurrent": 0,
    "session.prefix": "pi",
    "worktree.dir": ".worktrees",
    "worktree.copy_files": [],
    "worktree.setup": [],
    "plugins": [],
    "disable": [],
}


def schema_defaults(schema: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every option's default, by dotted key."""
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        if isinstance(spec, Option):
            out[prefix + key] = spec.default
        else:
            out.update(schema_defaults(spec, f"{prefix}{key}."))
    return out


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def build(raw: dict[str, Any], *plugin_options: dict[str, Any]) -> Config:
    return build_config(Path("/nonexistent"), None, raw, list(plugin_options))


def write(root: Path, text: str, name: str = ".pirun.yaml") -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(raw: dict[str, Any], *plugin_options: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        build(raw, *plugin_options)
    return str(info.value)


# --- defaults ------------------------------------------------------------------------------


def test_empty_config_gets_every_kernel_default() -> None:
    values = flatten(build({}).values)
    assert values == schema_defaults(KERNEL_OPTIONS)
    assert {key: values[key] for key in KNOWN_DEFAULTS} == KNOWN_DEFAULTS


def test_partial_section_gets_remaining_defaults() -> None:
    config = build({"agent": {"preset": "claude"}, "parallel": None})
    assert config.get("agent.preset") == "claude"
    assert config.get("agent.command") is None
    assert config.get("agent.mode") is None
    assert set(config.values["agent"]) == set(KERNEL_OPTIONS["agent"])
    assert config.max_concurrent == 0


def test_plugin_options_get_their_defaults_too() -> None:
    options = {"hello": {"greeting": Option(str, "hi", "A greeting.")}}
    assert build({}, options).get("hello.greeting") == "hi"


def test_list_defaults_are_not_shared_between_configs() -> None:
    first = build({})
    first.values["worktree"]["copy_files"].append(".env")
    assert build({}).values["worktree"]["copy_files"] == []
    assert KERNEL_OPTIONS["worktree"]["copy_files"].default == []


def test_properties_and_dotted_get_read_the_values(tmp_path: Path) -> None:
    config = build_config(
        tmp_path, None, {"session": {"prefix": "ag"}, "worktree": {"dir": "wt"}}, []
    )
    assert config.prefix == "ag"
    assert config.session_name("12") == "ag-issue-12"
    assert config.issue_of_session("ag-issue-12") == "12"
    assert config.issue_of_session("pi-issue-12") is None
    assert config.status_dir == (tmp_path / "wt" / ".status").resolve()
    assert config.get("worktree.dir") == "wt"
    assert config.get("worktree.nope", "fallback") == "fallback"


def test_names_derived_from_keys(tmp_path: Path) -> None:
    config = build_config(tmp_path, None, {"session": {"prefix": "ag"}}, [])
    # Numbers keep the seed's names.
    assert config.log_path("12").name == "issue-12.log"
    assert config.exit_path("12").name == "issue-12.exit"
    assert config.signal_path("12").name == "issue-12.signal"
    assert config.run_spec_path("12").name == "issue-12.json"
    # Name keys appear as they are; anything else is escaped, reversibly.
    for key, name in (("PROJ-1", "PROJ-1"), ("login-page", "login-page"),
                      ("o/r#7", "o_2fr_237")):
        assert config.session_name(key) == f"ag-issue-{name}"
        assert config.issue_of_session(f"ag-issue-{name}") == key
        assert config.log_path(key) == config.log_dir / f"issue-{name}.log"
        assert config.exit_path(key) == config.log_dir / f"issue-{name}.exit"
        assert config.signal_path(key) == config.run_dir / f"issue-{name}.signal"
        assert config.run_spec_path(key) == config.run_dir / f"issue-{name}.json"


@pytest.mark.parametrize("name", ["ag-issue-", "ag-issue-a b", "ag-issue--x", "ag-issue-x-",
                                  "ag-issue-_zz", "ag-issue-a_", "ag-issue-PROJ-1.2"])
def test_session_names_no_key_gives_are_no_issue(tmp_path: Path, name: str) -> None:
    config = build_config(tmp_path, None, {"session": {"prefix": "ag"}}, [])
    assert config.issue_of_session(name) is None


def test_empty_config_file_means_defaults(tmp_path: Path) -> None:
    write(tmp_path, "# only a comment\n")
    path, raw = read_raw_config(tmp_path)
    assert path == tmp_path / ".pirun.yaml"
    assert raw == {}


def test_no_config_file_means_defaults(tmp_path: Path) -> None:
    assert read_raw_config(tmp_path) == (None, {})


# --- unknown keys and wrong types ----------------------------------------------------------


def test_unknown_top_level_key_names_it() -> None:
    message = config_error({"trackr": "local"})
    assert "'trackr'" in message and "unknown" in message


def test_unknown_nested_key_names_the_dotted_key() -> None:
    assert "'agent.presett'" in config_error({"agent": {"presett": "pi"}})
    assert "'worktree.copy_file'" in config_error({"worktree": {"copy_file": []}})


def test_unknown_key_in_plugin_section_names_the_dotted_key() -> None:
    options = {"hello": {"greeting": Option(str, "hi", "A greeting.")}}
    assert "'hello.greting'" in config_error({"hello": {"greting": "x"}}, options)


def test_section_given_a_scalar_names_the_key() -> None:
    message = config_error({"parallel": 4})
    assert "'parallel'" in message and "mapping" in message


@pytest.mark.parametrize(
    ("raw", "key", "type_words"),
    [
        ({"parallel": {"max_concurrent": "3"}}, "parallel.max_concurrent", "must be int, got str"),
        ({"parallel": {"max_concurrent": True}}, "parallel.max_concurrent", "int, got bool"),
        ({"parallel": {"max_concurrent": 2.5}}, "parallel.max_concurrent", "got float"),
        ({"tracker": 7}, "tracker", "must be str, got int"),
        ({"session": {"prefix": ["a"]}}, "session.prefix", "got list"),
        ({"worktree": {"copy_files": ".env"}}, "worktree.copy_files", "list of str"),
        ({"worktree": {"copy_files": [".env", 3]}}, "worktree.copy_files", "list of str"),
        ({"agent": {"command": ["pi", 1]}}, "agent.command", "list of str or str"),
        ({"agent": {"command": {"a": 1}}}, "agent.command", "got dict"),
        ({"plugins": [None]}, "plugins", "list of str"),
        ({"tracker": None}, "tracker", "got NoneType"),
    ],
)
def test_wrong_type_names_the_key_and_expected_type(
    raw: dict[str, Any], key: str, type_words: str
) -> None:
    message = config_error(raw)
    assert f"'{key}'" in message
    assert type_words in message


def test_null_is_accepted_where_the_default_is_null() -> None:
    assert build({"base": None, "agent": {"command": None}}).values["base"] is None


# --- YAML parsing --------------------------------------------------------------------------


def test_bad_yaml_is_a_one_line_error_with_line_number(tmp_path: Path) -> None:
    write(tmp_path, "tracker: local\nbackend: tmux\nagent: [unclosed\nparallel: {}\n")
    with pytest.raises(ConfigError) as info:
        read_raw_config(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(".pirun.yaml")
    assert re.search(r"\(line [3-5]\)", message), message


def test_tab_indentation_error_reports_its_line(tmp_path: Path) -> None:
    write(tmp_path, "tracker: local\nagent:\n\tpreset: pi\n")
    with pytest.raises(ConfigError, match=r"\(line 3\)") as info:
        read_raw_config(tmp_path)
    assert "\n" not in str(info.value)


def test_python_object_tag_is_refused_and_never_executed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, 'tracker: !!python/object/apply:os.system ["touch PWNED"]\n')
    with pytest.raises(ConfigError) as info:
        read_raw_config(tmp_path)
    assert "\n" not in str(info.value)
    assert "python/object/apply" in str(info.value)
    assert not (tmp_path / "PWNED").exists()


def test_top_level_list_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "- tracker: local\n- backend: tmux\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        read_raw_config(tmp_path)


def test_top_level_scalar_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "just a string\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        read_raw_config(tmp_path)


def test_non_utf8_config_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".pirun.yaml").write_bytes(b"tracker: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"\.pirun\.yaml"):
        read_raw_config(tmp_path)


# --- which file ----------------------------------------------------------------------------


def test_legacy_pi_runner_yaml_is_used_when_pirun_yaml_is_absent(tmp_path: Path) -> None:
    write(tmp_path, "tracker: github\n", name=".pi-runner.yaml")
    path, raw = read_raw_config(tmp_path)
    assert path == tmp_path / ".pi-runner.yaml"
    assert raw == {"tracker": "github"}


def test_pirun_yaml_wins_when_both_exist(tmp_path: Path) -> None:
    write(tmp_path, "tracker: github\n", name=".pi-runner.yaml")
    write(tmp_path, "tracker: local\n")
    assert find_config_file(tmp_path) == tmp_path / ".pirun.yaml"
    assert read_raw_config(tmp_path)[1] == {"tracker": "local"}


def test_runtime_reads_legacy_file_from_the_repo(repo) -> None:
    write(repo.path, "session:\n  prefix: legacy\n", name=".pi-runner.yaml")
    config = Runtime.load(repo.path).config
    assert config.prefix == "legacy"
    assert config.path == repo.path / ".pi-runner.yaml"


def test_config_is_found_from_a_subdirectory(repo) -> None:
    write(repo.path, "session:\n  prefix: sub\n")
    (repo.path / "deep" / "er").mkdir(parents=True)
    assert Runtime.load(repo.path / "deep" / "er").config.prefix == "sub"


# --- agent.command -------------------------------------------------------------------------


def test_agent_command_string_is_split_like_a_shell_without_running_one() -> None:
    config = build({"agent": {"command": "my-agent --msg 'two words' \"$HOME\" {prompt_file};"}})
    assert config.agent_command() == ["my-agent", "--msg", "two words", "$HOME", "{prompt_file};"]


def test_agent_command_list_is_kept_as_is() -> None:
    argv = ["my agent", "--x", "{issue}"]
    assert build({"agent": {"command": argv}}).agent_command() == argv


def test_agent_command_with_unbalanced_quote_names_the_key() -> None:
    config = build({"agent": {"command": "my-agent 'oops"}})
    with pytest.raises(ConfigError, match=r"'agent\.command'"):
        config.agent_command()


def test_agent_command_unset_is_none() -> None:
    assert build({}).agent_command() is None


# --- agent.input_prompt --------------------------------------------------------------------


def test_agent_input_prompt_that_compiles_is_kept() -> None:
    assert build({"agent": {"input_prompt": r"^\s*>\s*$"}}).get("agent.input_prompt") == (
        r"^\s*>\s*$"
    )


@pytest.mark.parametrize("pattern", ["([unclosed", "*starts with a repeat", "a{2,1}"])
def test_agent_input_prompt_that_does_not_compile_names_the_key(pattern: str) -> None:
    message = config_error({"agent": {"input_prompt": pattern}})
    assert message.startswith(
        "configuration key 'agent.input_prompt' is not a valid regular expression: "
    )
    assert "\n" not in message


def test_option_check_runs_for_plugin_options_too() -> None:
    def even(value: int) -> str | None:
        return None if value % 2 == 0 else "must be even"

    schema = {"hello": {"count": Option(int, 2, "Pairs.", check=even)}}
    assert build({"hello": {"count": 4}}, schema).get("hello.count") == 4
    assert config_error({"hello": {"count": 3}}, schema) == (
        "configuration key 'hello.count' must be even"
    )


# --- options declared by plugins -----------------------------------------------------------


def test_option_declared_by_a_bundled_plugin_is_accepted(repo) -> None:
    repo.write_config(tmux={"socket_name": "pirun-test"})
    config = Runtime.load(repo.path).config
    assert config.get("tmux.socket_name") == "pirun-test"


OPTION_PLUGIN = '''
from pirun import hookimpl
from pirun.config import Option


@hookimpl
def pirun_config_options():
    return {
        "hello": {"greeting": Option(str, "hi", "What to say.")},
        "agent": {"nickname": Option(str, None, "Extends a kernel section.")},
    }
'''


def add_option_plugin(repo) -> str:
    path = repo.path / ".pirun" / "plugins" / "opts.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OPTION_PLUGIN, encoding="utf-8")
    return ".pirun/plugins/opts.py"


def test_option_declared_by_a_repo_plugin_is_accepted_with_defaults(repo) -> None:
    entry = add_option_plugin(repo)
    repo.write_config(plugins=[entry], agent={"nickname": "bob"})
    config = Runtime.load(repo.path).config
    assert config.get("hello.greeting") == "hi"
    assert config.get("agent.nickname") == "bob"
    assert config.get("agent.preset") == "pi"  # the kernel part of the section survives


def test_option_declared_by_a_repo_plugin_is_type_checked(repo) -> None:
    entry = add_option_plugin(repo)
    repo.write_config(plugins=[entry], hello={"greeting": 5})
    with pytest.raises(ConfigError, match=r"'hello\.greeting' must be str, got int"):
        Runtime.load(repo.path)


def test_plugin_section_without_the_plugin_is_an_unknown_key(repo) -> None:
    repo.write_config(hello={"greeting": "hey"})
    with pytest.raises(ConfigError, match="unknown configuration key 'hello'"):
        Runtime.load(repo.path)


# --- through the command line --------------------------------------------------------------


def test_cli_unknown_key_exits_3_with_one_line_naming_it(repo, pirun) -> None:
    repo.write_config(tracker="local", agent={"preset": "pi", "colour": "blue"})
    result = pirun("status")
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "'agent.colour'" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_long_error_message_is_not_wrapped(repo, pirun) -> None:
    key = "a_rather_long_unknown_key_name_that_pushes_the_message_past_eighty_columns"
    repo.write_config(**{key: 1})
    result = pirun("status")
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [f"Error: unknown configuration key '{key}'"]


def test_cli_bad_yaml_exits_3_with_one_line_and_line_number(repo, pirun) -> None:
    write(repo.path, "tracker: local\nagent: {preset: pi\n")
    result = pirun("status")
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "line " in lines[0] and ".pirun.yaml" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_bad_input_prompt_regex_exits_3_with_one_line_naming_the_key(repo, pirun) -> None:
    repo.write_config(agent={"preset": "claude", "input_prompt": "([unclosed"})
    repo.add_issue(1, "Anything")
    for args in (("status",), ("run", "1", "--no-attach")):
        result = pirun(*args)
        assert result.exit_code == 3, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(
            "Error: configuration key 'agent.input_prompt' is not a valid regular expression"
        )
    assert not (repo.path / ".worktrees").exists()  # nothing was started


def test_cli_wrong_type_exits_3_naming_the_key(repo, pirun) -> None:
    repo.write_config(parallel={"max_concurrent": "many"})
    result = pirun("status")
    assert result.exit_code == 3
    assert "'parallel.max_concurrent'" in result.stderr
    assert "Traceback" not in result.stderr
