"""pirun plugin: the Ray session backend (`backend: ray`).

One batch, many machines. Each issue's session is still a local process running
pirun's exec wrapper, exactly as with the process backend (the wrapper gives the
agent a pty, tees the log, detects markers and writes the status record here, on
the machine running `pirun batch`). What changes is the agent: when
`backend: ray`, a wrapper around `pirun_agent_command` replaces the argv the
presets produced with a local *job proxy*, `python -m pirun_ray.proxy JOB.json`,
which submits a Ray job (Ray's Job Submission REST API) that clones the repository on
a cluster node, runs the original agent there, pushes the issue branch back to the
remote, and whose logs the proxy copies to its own output for the wrapper to read.

So `pirun logs -f N`, `pirun stop N` and `pirun list` work unchanged: the session
is a normal local process. The proxy does not import Ray (it speaks the REST API
with httpx); this module imports it only to find the cluster for `ray.address:
auto`, and imports without Ray: `backend: ray` without it is a one-line error.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pirun_process import ProcessBackend

from pirun.api import (
    BackendError,
    Config,
    ConfigError,
    Issue,
    JsonFile,
    Option,
    Register,
    Workspace,
    git,
    hookimpl,
    key_name,
    procfs,
)

#: The custom Ray resource every agent job asks one unit of: start nodes with
#: `--resources='{"pirun_agent": K}'` to run at most K agents on each.
AGENT_RESOURCE = "pirun_agent"
INSTALL_HINT = "pip install 'pirun[ray]'"
REMOTE = "origin"
#: Keys of `ray.resources` that Ray takes as entrypoint arguments of their own.
_BUILTIN_RESOURCES = {"CPU": "entrypoint_num_cpus", "GPU": "entrypoint_num_gpus",
                      "memory": "entrypoint_memory"}


# -- configuration ---------------------------------------------------------------------


@hookimpl
def pirun_config_options() -> Mapping[str, Any]:
    return {
        "ray": {
            "address": Option(
                str,
                "auto",
                "Ray cluster to submit agent jobs to: the dashboard URL "
                "(http://HEAD:8265), or auto (RAY_API_SERVER_ADDRESS / RAY_ADDRESS, "
                "else the cluster started on this machine).",
            ),
            "resources": Option(
                dict,
                {},
                "Ray resources each agent job needs, merged over {pirun_agent: 1} "
                "(e.g. {gpu_box: 1}; CPU, GPU and memory are Ray's own; 0 drops one).",
            ),
            "python": Option(str, "python", "Python on the Ray nodes that runs the job script."),
            "env": Option(
                list,
                [],
                "Names of environment variables passed on to the agent on the node "
                "(PIRUN_* always are), e.g. [ANTHROPIC_API_KEY].",
                items=str,
            ),
            "exit_grace": Option(
                (int, float),
                30,
                "Seconds an agent may keep running after its completion marker before "
                "the job stops it and pushes its branch.",
            ),
        }
    }


def ray_installed() -> bool:
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


def require_ray() -> None:
    if not ray_installed():
        raise BackendError(f"backend 'ray' needs Ray, which is not installed: {INSTALL_HINT}")


def resolve_address(address: str) -> str:
    """The dashboard URL jobs are submitted to, as Ray's JobSubmissionClient finds it:
    `ray.address` itself (`http://` when it names no scheme), or for `auto`
    `RAY_API_SERVER_ADDRESS`, else `RAY_ADDRESS`, else the cluster started on this
    machine. Only the last two ways without a URL need Ray itself."""
    if address in ("", "auto"):
        address = (os.environ.get("RAY_API_SERVER_ADDRESS")
                   or os.environ.get("RAY_ADDRESS") or "auto")
        if not address.startswith(("http://", "https://")):
            return _ask_ray_for_address()
    if "://" not in address:
        address = f"http://{address}"
    return address.rstrip("/")


@functools.cache
def _ask_ray_for_address() -> str:
    # Imports Ray (seconds, tens of MB): once per process, and not in the job proxy,
    # whose spec holds the URL found here.
    try:
        from ray.dashboard.utils import get_address_for_submission_client

        return str(get_address_for_submission_client(None)).rstrip("/")
    except Exception as exc:
        detail = str(exc).strip().splitlines()
        raise BackendError(
            "no Ray cluster found (ray.address: auto): start one with `ray start --head` "
            f"or set ray.address to its dashboard URL ({detail[0] if detail else exc!r})"
        ) from None


# -- the session backend ---------------------------------------------------------------


@dataclass
class RayBackend(ProcessBackend):
    """Local exec-wrapper processes, as the process backend; the agent runs on Ray."""

    name: str = field(default="ray", init=False)

    def attach(self, name: str) -> None:
        raise BackendError(
            "the ray backend's agents run on cluster nodes with no terminal to attach to; "
            "use `pirun logs -f N`"
        )

    def send_text(self, name: str, text: str) -> None:
        raise BackendError(
            "sending text to a session (nudging) needs the tmux backend; "
            "the ray backend's agents have no terminal input"
        )


@hookimpl
def pirun_register_backends(register: Register) -> None:
    register("ray", ray_backend)


def ray_backend(config: Config) -> RayBackend:
    require_ray()
    if not procfs.available():
        raise BackendError("the ray backend needs /proc (Linux) on the machine running pirun")
    return RayBackend(config.run_dir / "sessions")


# -- the job spec ----------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec(JsonFile):
    """Everything the proxy needs to submit one issue's job. Written under
    `run_dir`, so no issue text ever reaches an argv or Ray's entrypoint string."""

    issue: str
    branch: str
    base_branch: str | None
    base_commit: str | None
    remote: str
    #: The agent argv the presets produced, placeholders already filled with local paths.
    argv: list[str]
    prompt_file: str
    worktree: str
    repo: str
    python: str
    address: str
    resources: dict[str, float]
    node_python: str = "python"
    forward_env: list[str] = field(default_factory=list)
    exit_grace: float = 30.0


def job_spec_path(config: Config, issue: str) -> Path:
    return config.run_dir / f"ray-issue-{key_name(issue)}.json"


def job_record_path(config_run_dir: Path, issue: str) -> Path:
    """Where the proxy notes the Ray submission id of the issue's current job."""
    return config_run_dir / f"ray-issue-{key_name(issue)}.job"


def _is_local_path(url: str) -> bool:
    """A remote given as a file system path (not a URL, not scp-like `host:path`)."""
    if "://" in url:
        return url.startswith("file://")
    return not re.match(r"^[^/]+:", url)


def remote_url(root: Path) -> str:
    """The URL the nodes clone from and push to: `origin`, local paths made absolute."""
    proc = git.run(root, "remote", "get-url", REMOTE, error=ConfigError, check=False)
    url = proc.stdout.strip()
    if proc.returncode != 0 or not url:
        raise ConfigError(
            f"the ray backend needs an '{REMOTE}' remote that the Ray nodes can clone "
            "from and push to (git remote add origin URL)"
        )
    if _is_local_path(url) and not url.startswith("file://"):
        url = str((root / url).resolve())
    return url


def resources(config: Config) -> dict[str, float]:
    raw = config.get("ray.resources") or {}
    merged: dict[str, float] = {AGENT_RESOURCE: 1.0}
    for key, value in raw.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(
            value, int | float
        ) or value < 0:
            raise ConfigError(
                "configuration key 'ray.resources' must map resource names to numbers >= 0"
            )
        merged[key] = float(value)
    return {key: value for key, value in merged.items() if value > 0}


def entrypoint_resources(wanted: Mapping[str, float]) -> dict[str, Any]:
    """`ray.resources` as keyword arguments of `submit_job` (Ray's JobSubmissionClient
    and `rest.JobClient` alike)."""
    custom = {k: v for k, v in wanted.items() if k not in _BUILTIN_RESOURCES}
    kwargs: dict[str, Any] = {"entrypoint_resources": custom} if custom else {}
    for key, argument in _BUILTIN_RESOURCES.items():
        if key in wanted:
            kwargs[argument] = int(wanted[key]) if key == "memory" else wanted[key]
    return kwargs


def build_job_spec(
    config: Config, issue: Issue, workspace: Workspace, prompt_file: Path, argv: list[str]
) -> JobSpec:
    root = config.root
    recorded = git.run(root, "config", "--get", f"branch.{workspace.branch}.pirunbase",
                       error=BackendError, check=False)
    base_branch = recorded.stdout.strip() or config.get("base") or None
    head = git.run(workspace.path, "rev-parse", "--verify", "HEAD^{commit}",
                   error=BackendError, check=False)
    # Before the address: a missing remote is the problem to name, not the cluster.
    remote = remote_url(root)
    if workspace.builds_on:
        # A branch stacked on several blockers starts at a merge made here, which the
        # nodes (cloning from the remote) would not find: publish the start first.
        pushed = git.run(workspace.path, "push", "--quiet", remote,
                         f"HEAD:refs/heads/{workspace.branch}", error=BackendError,
                         check=False, timeout=300.0)
        if pushed.returncode != 0:
            raise BackendError(
                f"cannot push {workspace.branch}'s start (its blockers' work) to the remote: "
                f"{git.last_line(pushed)}"
            )
    return JobSpec(
        issue=issue.key,
        branch=workspace.branch,
        base_branch=base_branch,
        base_commit=head.stdout.strip() or None,
        remote=remote,
        argv=list(argv),
        prompt_file=str(prompt_file),
        worktree=str(workspace.path),
        repo=str(root),
        python=sys.executable,
        address=resolve_address(config.get("ray.address") or "auto"),
        resources=resources(config),
        node_python=config.get("ray.python") or "python",
        forward_env=list(config.get("ray.env") or []),
        exit_grace=float(config.get("ray.exit_grace") or 0),
    )


def proxy_argv(spec_path: Path) -> list[str]:
    return [sys.executable, "-m", "pirun_ray.proxy", str(spec_path)]


@hookimpl(wrapper=True)
def pirun_agent_command(
    config: Config, issue: Issue, workspace: Workspace, prompt_file: Path
) -> Generator[None, list[str] | None, list[str] | None]:
    """Under `backend: ray`, run whatever agent was chosen on a Ray node instead."""
    argv = yield
    if config.backend != "ray" or not argv:
        return argv
    spec = build_job_spec(config, issue, workspace, prompt_file, list(argv))
    path = job_spec_path(config, issue.key)
    spec.write(path)
    return proxy_argv(path)
