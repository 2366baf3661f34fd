"""The Ray plugin's parts that need no cluster: the missing-Ray error, the agent
command wrapper and its job spec, the remote job script run locally against a bare
remote, and the proxy's handling of the completion marker.

These run without Ray installed (the ones that need Ray's types skip)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pirun_ray
import pytest
from pirun_ray import job as remote_job
from pirun_ray.proxy import Proxy, Relay
from rayutil import git, make_remote_repo

from pirun.errors import ConfigError
from pirun.model import Issue, Workspace
from pirun.runtime import Runtime

#: Runs the real CLI in a Python where `import ray` fails, whatever is installed.
WITHOUT_RAY = (
    "import runpy, sys; sys.modules['ray'] = None; sys.argv = ['pirun', *sys.argv[1:]]; "
    "runpy.run_module('pirun', run_name='__main__', alter_sys=True)"
)


@pytest.mark.parametrize("command", [["batch", "1"], ["run", "1"], ["list"]])
def test_backend_ray_without_ray_is_a_one_line_error(repo: Any, command: list[str]) -> None:
    repo.write_config(tracker="local", backend="ray", agent={"preset": "demo"})
    repo.add_issue(1, "First")

    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_RAY, *command], cwd=repo.path, capture_output=True,
        text=True, timeout=60, stdin=subprocess.DEVNULL,
    )

    assert proc.returncode != 0
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1, proc.stderr
    assert "pip install 'pirun[ray]'" in errors[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert repo.status(1) is None


def test_the_plugin_imports_and_configures_without_ray(repo: Any) -> None:
    code = "import sys; sys.modules['ray'] = None; import pirun_ray, pirun_ray.proxy; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.strip() == "ok", proc.stderr


# -- the agent command wrapper ---------------------------------------------------------


def workspace_for(rt: Runtime, key: str = "7") -> tuple[Issue, Workspace, Path]:
    issue = Issue(key, f"Issue {key}")
    workspace = rt.workspaces.create(issue, None, False)
    prompt = workspace.path / ".pirun-prompt.md"
    prompt.write_text("# Issue 7\n", encoding="utf-8")
    return issue, workspace, prompt


def test_under_backend_ray_the_agent_becomes_the_job_proxy(tmp_path: Path) -> None:
    remote = make_remote_repo(tmp_path / "r")
    remote.write_config(tracker="local", backend="ray", agent={"preset": "demo"},
                        ray={"address": "http://head:8265", "resources": {"gpu_box": 1},
                             "env": ["ANTHROPIC_API_KEY"]})
    rt = Runtime.load(remote.path)
    issue, workspace, prompt = workspace_for(rt)

    argv = rt.pm.hook.pirun_agent_command(
        config=rt.config, issue=issue, workspace=workspace, prompt_file=prompt)

    spec_path = rt.config.run_dir / "ray-issue-7.json"
    assert argv == [sys.executable, "-m", "pirun_ray.proxy", str(spec_path)]
    spec = pirun_ray.JobSpec.read(spec_path)
    # The preset's argv, as it would have run locally.
    assert spec.argv == [sys.executable, "-m", "pirun_agents.demo", "7", str(prompt)]
    assert spec.branch == workspace.branch == "issue-7-issue-7"
    assert spec.base_branch == "main"
    assert spec.base_commit == git(remote.path, "rev-parse", "main")
    assert spec.remote == str(remote.bare)
    assert spec.address == "http://head:8265"
    assert spec.resources == {"pirun_agent": 1.0, "gpu_box": 1.0}
    assert spec.forward_env == ["ANTHROPIC_API_KEY"]


def test_a_name_key_gets_its_own_job_spec_file_and_branch(tmp_path: Path) -> None:
    remote = make_remote_repo(tmp_path / "r")
    remote.write_config(tracker="local", backend="ray", agent={"preset": "demo"},
                        ray={"address": "http://head:8265"})
    rt = Runtime.load(remote.path)
    issue, workspace, prompt = workspace_for(rt, "o/r#7")

    argv = rt.pm.hook.pirun_agent_command(
        config=rt.config, issue=issue, workspace=workspace, prompt_file=prompt)

    spec_path = rt.config.run_dir / "ray-issue-o_2fr_237.json"
    assert argv == [sys.executable, "-m", "pirun_ray.proxy", str(spec_path)]
    assert pirun_ray.job_spec_path(rt.config, "o/r#7") == spec_path
    assert pirun_ray.job_record_path(rt.config.run_dir, "o/r#7") == (
        rt.config.run_dir / "ray-issue-o_2fr_237.job")
    assert pirun_ray.job_spec_path(rt.config, "7") == rt.config.run_dir / "ray-issue-7.json"
    spec = pirun_ray.JobSpec.read(spec_path)
    assert spec.issue == "o/r#7"
    assert spec.branch == workspace.branch == "issue-o_2fr_237--issue-o-r-7"
    assert spec.argv == [sys.executable, "-m", "pirun_agents.demo", "o/r#7", str(prompt)]


def test_other_backends_keep_the_agent_command(tmp_path: Path) -> None:
    remote = make_remote_repo(tmp_path / "r")
    remote.write_config(tracker="local", backend="process", agent={"preset": "demo"})
    rt = Runtime.load(remote.path)
    issue, workspace, prompt = workspace_for(rt)

    argv = rt.pm.hook.pirun_agent_command(
        config=rt.config, issue=issue, workspace=workspace, prompt_file=prompt)

    assert argv[1:3] == ["-m", "pirun_agents.demo"]
    assert not (rt.config.run_dir / "ray-issue-7.json").exists()


def test_a_repository_without_origin_is_refused(repo: Any) -> None:
    repo.write_config(tracker="local", backend="ray", agent={"preset": "demo"})
    rt = Runtime.load(repo.path)
    issue, workspace, prompt = workspace_for(rt)

    with pytest.raises(ConfigError, match="needs an 'origin' remote"):
        rt.pm.hook.pirun_agent_command(
            config=rt.config, issue=issue, workspace=workspace, prompt_file=prompt)


def test_relative_remote_paths_become_absolute(tmp_path: Path) -> None:
    remote = make_remote_repo(tmp_path / "r")
    git(remote.path, "remote", "set-url", "origin", "../remote.git")
    assert pirun_ray.remote_url(remote.path) == str(remote.bare)
    git(remote.path, "remote", "set-url", "origin", "git@github.com:o/r.git")
    assert pirun_ray.remote_url(remote.path) == "git@github.com:o/r.git"


def test_resources_map_onto_ray_entrypoint_arguments() -> None:
    wanted = {"pirun_agent": 1.0, "gpu_box": 1.0, "CPU": 2.0, "GPU": 1.0, "memory": 2e9}
    assert pirun_ray.entrypoint_resources(wanted) == {
        "entrypoint_resources": {"pirun_agent": 1.0, "gpu_box": 1.0},
        "entrypoint_num_cpus": 2.0,
        "entrypoint_num_gpus": 1.0,
        "entrypoint_memory": 2000000000,
    }


@pytest.mark.parametrize("bad", [{"x": -1}, {"x": "one"}, {"x": True}])
def test_bad_resources_are_configuration_errors(repo: Any, bad: dict[str, Any]) -> None:
    repo.write_config(backend="ray", ray={"resources": bad})
    rt = Runtime.load(repo.path)
    with pytest.raises(ConfigError, match=r"ray\.resources"):
        pirun_ray.resources(rt.config)


def test_pirun_agent_zero_drops_the_default_resource(repo: Any) -> None:
    repo.write_config(backend="ray", ray={"resources": {"pirun_agent": 0, "big": 1}})
    assert pirun_ray.resources(Runtime.load(repo.path).config) == {"big": 1.0}


# -- the remote job script, run here against a bare remote -----------------------------


AGENT = r"""
import os, subprocess, sys
issue, prompt, behaviour = sys.argv[1], sys.argv[2], sys.argv[3]
print("agent read:", open(prompt).read().strip(), "in", os.getcwd(), flush=True)
if behaviour == "fail":
    sys.exit(4)
open("work.txt", "w").write("done\n")
subprocess.run(["git", "add", "work.txt"], check=True)
subprocess.run(["git", "commit", "-qm", "agent work"], check=True)
print(f"###TASK_COMPLETE_{issue}###", flush=True)
sys.exit(3 if behaviour == "marker-then-exit-3" else 0)
"""


def run_job(tmp_path: Path, behaviour: str, hook: str | None = None, prompt: str = "the task",
            key: str = "5", branch: str = "issue-5-x"
            ) -> tuple[subprocess.CompletedProcess[str], Any, Path]:
    remote = make_remote_repo(tmp_path / "r")
    if hook:
        hook_path = remote.bare / "hooks" / "pre-receive"
        hook_path.write_text(hook)
        hook_path.chmod(0o755)
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "prompt.md").write_text(prompt)
    local_prompt = "/local/wt/.pirun-prompt.md"
    spec = {
        "issue": key, "branch": branch, "base_branch": "main",
        "base_commit": git(remote.path, "rev-parse", "main"), "remote": str(remote.bare),
        "argv": ["/local/python", str(agent), key, local_prompt, behaviour],
        "local": {"prompt_file": local_prompt, "worktree": "/local/wt", "repo": "/local",
                  "python": "/local/python"},
        "env": {"PIRUN_ISSUE": key}, "exit_grace": 5,
    }
    (job_dir / "job.json").write_text(json.dumps(spec))
    proc = subprocess.run(
        [sys.executable, remote_job.__file__, "job.json"], cwd=job_dir, capture_output=True,
        text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    return proc, remote, job_dir


def test_the_job_clones_runs_the_agent_and_pushes_the_branch(tmp_path: Path) -> None:
    proc, remote, _ = run_job(tmp_path, "ok")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "agent read: the task in /" in proc.stdout
    assert "###TASK_COMPLETE_5###" in proc.stdout
    assert "issue-5-x" in remote.remote_branches()
    sha = git(remote.bare, "rev-parse", "issue-5-x")
    assert f"[pirun-ray] pushed issue-5-x {sha}" in proc.stdout
    assert git(remote.bare, "log", "-1", "--format=%s", "issue-5-x") == "agent work"
    # The prompt copy stayed out of the commit; the node-local clone is gone.
    assert git(remote.bare, "ls-tree", "--name-only", "issue-5-x").split() == [
        "README.md", "work.txt"]
    clone = proc.stdout.split(" in ")[1].split()[0]
    assert not Path(clone).exists()


def test_a_failing_agent_pushes_nothing_and_passes_its_exit_code_on(tmp_path: Path) -> None:
    proc, remote, _ = run_job(tmp_path, "fail")
    assert proc.returncode == 4
    assert remote.remote_branches() == {"main"}


def test_the_marker_counts_as_success_for_the_push_but_the_exit_code_stays(
    tmp_path: Path,
) -> None:
    proc, remote, _ = run_job(tmp_path, "marker-then-exit-3")
    assert proc.returncode == 3
    assert "issue-5-x" in remote.remote_branches()


def test_a_rejected_push_is_reported(tmp_path: Path) -> None:
    proc, remote, _ = run_job(tmp_path, "ok", hook="#!/bin/sh\necho no pushes >&2\nexit 1\n")
    assert proc.returncode == 1
    assert "[pirun-ray] error: push failed: git push failed:" in proc.stdout
    assert remote.remote_branches() == {"main"}


def test_local_paths_in_the_agent_argv_become_the_node_clone() -> None:
    local = {"prompt_file": "/local/wt/.pirun-prompt.md", "worktree": "/local/wt",
             "repo": "/local", "python": "/local/python"}
    spec = {"local": local, "argv": [
        "/local/python", "-m", "x", "/local/wt/.pirun-prompt.md", "--dir=/local/wt",
        "@/local/wt/.pirun-prompt.md", "--repo", "/local", "/local/tools/run",
        "cd /local && make agent", "/local2", "/local.git", "/other/local", "/local/wt2",
    ]}
    clone, prompt = Path("/n/repo"), Path("/n/repo/.pirun-prompt.md")

    argv = remote_job.agent_argv(spec, remote_job.local_paths(spec, clone, prompt))

    # {prompt_file}, {worktree} and {repo}, whole or as the start of a path; the node's
    # clone is both worktree and repository. Other paths stay.
    assert argv == [
        sys.executable, "-m", "x", str(prompt), "--dir=/n/repo", f"@{prompt}",
        "--repo", "/n/repo", "/n/repo/tools/run", "cd /n/repo && make agent",
        "/local2", "/local.git", "/other/local", "/n/repo/wt2",
    ]


def test_local_paths_in_the_prompt_become_the_node_clone(tmp_path: Path) -> None:
    proc, _, _ = run_job(tmp_path, "ok", prompt="Work in /local/wt. Not in /local.git.")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    read = next(line for line in proc.stdout.splitlines() if line.startswith("agent read:"))
    clone = read.rsplit(" in ", 1)[1]
    assert "/local" not in clone
    assert read == f"agent read: Work in {clone}. Not in /local.git. in {clone}"


# -- the proxy's relay of the job's log ------------------------------------------------


@pytest.fixture
def captured(capfdbinary: pytest.CaptureFixture[bytes]) -> Any:
    def read() -> str:
        return capfdbinary.readouterr().out.decode()
    return read


def test_relay_holds_the_completion_marker_until_release(captured: Any) -> None:
    relay = Relay("9")
    relay.feed("working\nstill work")
    relay.feed("ing\n###TASK_COMPLETE_9###\nafter the mar")
    relay.feed("ker\n[pirun-ray] pushed issue-9-x abc123\n")
    assert captured() == "working\nstill working\n"
    assert relay.pushed == "issue-9-x"
    relay.release()
    assert captured() == (
        "###TASK_COMPLETE_9###\nafter the marker\n[pirun-ray] pushed issue-9-x abc123\n")
    assert relay.consumed == len("working\nstill working\n###TASK_COMPLETE_9###\n"
                                 "after the marker\n[pirun-ray] pushed issue-9-x abc123\n")


def test_relay_passes_other_issues_markers_and_errors_through(captured: Any) -> None:
    relay = Relay("9")
    relay.feed("###TASK_COMPLETE_19###\n###TASK_ERROR_9### broken\n[pirun-ray] error: x y\n")
    assert captured() == (
        "###TASK_COMPLETE_19###\n###TASK_ERROR_9### broken\n[pirun-ray] error: x y\n")
    assert relay.error == "x y"
    assert not relay.holding


def test_relay_holds_a_name_keys_marker_and_no_other(captured: Any) -> None:
    relay = Relay("PROJ-1")
    relay.feed("###TASK_COMPLETE_PROJ-10###\n###TASK_COMPLETE_1###\n")
    assert captured() == "###TASK_COMPLETE_PROJ-10###\n###TASK_COMPLETE_1###\n"
    assert not relay.holding
    relay.feed("● ###TASK_COMPLETE_PROJ-1###\nmore\n")
    assert captured() == ""
    relay.release()
    assert captured() == "● ###TASK_COMPLETE_PROJ-1###\nmore\n"


class FakeInfo:
    def __init__(self, status: str, exit_code: int | None, message: str,
                 node: str | None = None) -> None:
        self.status, self.driver_exit_code, self.message = status, exit_code, message
        self.driver_node_id = node


class FakeClient:
    def __init__(self, info: FakeInfo, node_state: str | None = "ALIVE") -> None:
        self.info = info
        self.node_state = node_state

    def get_job_info(self, job_id: str) -> FakeInfo:
        return self.info

    def get_node_state(self, node_id: str) -> str | None:
        return self.node_state


def finish(tmp_path: Path, relay: Relay, info: FakeInfo, node_state: str | None = "ALIVE"
           ) -> int:
    spec = pirun_ray.JobSpec(
        issue="9", branch="issue-9-x", base_branch="main", base_commit=None,
        remote=str(tmp_path / "nowhere"), argv=["true"], prompt_file="", worktree=str(tmp_path),
        repo=str(tmp_path), python=sys.executable, address="http://x", resources={},
    )
    import threading

    return Proxy(spec, relay, threading.Event(), tmp_path).finish(FakeClient(info, node_state))


def test_a_failed_push_after_the_marker_ends_as_an_error_first(
    tmp_path: Path, captured: Any
) -> None:
    relay = Relay("9")
    relay.feed("###TASK_COMPLETE_9###\n[pirun-ray] error: push failed: rejected\n")
    code = finish(tmp_path, relay, FakeInfo("FAILED", 1, "exit code 1"))
    assert code == 1
    assert captured() == ("###TASK_ERROR_9### push failed: rejected\n###TASK_COMPLETE_9###\n"
                          "[pirun-ray] error: push failed: rejected\n")


def test_a_job_whose_supervisor_died_is_a_lost_node(tmp_path: Path, captured: Any) -> None:
    relay = Relay("9")
    relay.feed("demo agent: working\n")
    captured()
    info = FakeInfo("FAILED", None,
                    "Job supervisor actor died: The actor died unexpectedly before finishing")
    assert finish(tmp_path, relay, info) == 1
    assert captured() == "###TASK_ERROR_9### node lost\n"


@pytest.mark.parametrize(("state", "reason"), [
    ("DEAD", "node lost"), (None, "node lost"), ("ALIVE", "the job went wrong")])
def test_a_job_failed_on_a_dead_node_is_a_lost_node(
    tmp_path: Path, captured: Any, state: str | None, reason: str
) -> None:
    info = FakeInfo("FAILED", None, "the job went wrong", node="abc123")
    assert finish(tmp_path, Relay("9"), info, node_state=state) == 1
    assert captured() == f"###TASK_ERROR_9### {reason}\n"


class FakeSubmitClient:
    def __init__(self) -> None:
        self.kwargs: dict[str, Any] = {}
        self.files: dict[str, str] = {}

    def submit_job(self, **kwargs: Any) -> str:
        self.kwargs = kwargs
        directory = Path(kwargs["runtime_env"]["working_dir"])
        self.files = {p.name: p.read_text() for p in directory.iterdir()}
        return kwargs["submission_id"]


def test_the_job_carries_issue_text_in_files_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt = tmp_path / "prompt"
    prompt.write_text("# $(rm -rf /) `x` 'quotes' and the issue body\n")
    spec = pirun_ray.JobSpec(
        issue="9", branch="issue-9-x", base_branch="main", base_commit="abc",
        remote="/r.git", argv=["agent", str(prompt)], prompt_file=str(prompt),
        worktree=str(tmp_path), repo=str(tmp_path), python=sys.executable,
        address="http://x", resources={"pirun_agent": 1.0, "CPU": 1.0},
        node_python="/opt/my python/bin/python", forward_env=["SECRET_TOKEN"],
    )
    monkeypatch.setenv("SECRET_TOKEN", "t0ken")
    monkeypatch.setenv("PIRUN_DEMO_DELAY", "2")
    monkeypatch.setenv("UNRELATED", "no")
    import threading

    client = FakeSubmitClient()
    job_id = Proxy(spec, Relay("9"), threading.Event(), tmp_path).submit(client)

    assert job_id.startswith("pirun-issue-9-")
    kwargs = client.kwargs
    # A shell string for Ray: pirun's own words only, each quoted.
    assert kwargs["entrypoint"] == "'/opt/my python/bin/python' job.py job.json"
    assert kwargs["entrypoint_resources"] == {"pirun_agent": 1.0}
    assert kwargs["entrypoint_num_cpus"] == 1.0
    assert set(client.files) == {"job.py", "job.json", "prompt.md"}
    assert client.files["prompt.md"] == prompt.read_text()
    job = json.loads(client.files["job.json"])
    assert job["env"]["SECRET_TOKEN"] == "t0ken"
    assert job["env"]["PIRUN_DEMO_DELAY"] == "2"
    assert "UNRELATED" not in job["env"]
    assert job["argv"] == ["agent", str(prompt)]
    assert "issue body" not in json.dumps(kwargs["metadata"])
    # The working directory was only for the upload.
    assert not Path(kwargs["runtime_env"]["working_dir"]).exists()


def test_the_job_of_a_name_key_submits_under_its_safe_name(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt"
    prompt.write_text("the task\n")
    spec = pirun_ray.JobSpec(
        issue="o/r#7", branch="issue-o_2fr_237--x", base_branch="main", base_commit="abc",
        remote="/r.git", argv=["agent"], prompt_file=str(prompt),
        worktree=str(tmp_path), repo=str(tmp_path), python=sys.executable,
        address="http://x", resources={},
    )
    import threading

    client = FakeSubmitClient()
    job_id = Proxy(spec, Relay("o/r#7"), threading.Event(), tmp_path).submit(client)

    assert job_id.startswith("pirun-issue-o_2fr_237-")
    assert client.kwargs["metadata"]["pirun_issue"] == "o/r#7"
    assert json.loads(client.files["job.json"])["issue"] == "o/r#7"


def test_the_job_of_a_name_key_watches_for_that_keys_marker(tmp_path: Path) -> None:
    # The agent exits 3 after its marker: only a recognised marker makes the job push.
    proc, remote, _ = run_job(tmp_path, "marker-then-exit-3", key="PROJ-5",
                              branch="issue-PROJ-5--x")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "###TASK_COMPLETE_PROJ-5###" in proc.stdout
    assert "issue-PROJ-5--x" in remote.remote_branches()
