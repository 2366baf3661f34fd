"""The Ray backend on a real local Ray cluster: a head and a worker node started as
separate `ray start` processes, a bare repository as the remote, the demo agent.

Slow (each Ray job costs seconds of start-up); skipped where Ray is not installed.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("ray")

from raycluster import Cluster, Node
from rayutil import (
    SCRIPTED_AGENT,
    Pirun,
    RemoteRepo,
    git,
    jobs_of,
    make_remote_repo,
    ray_config,
    wait_until,
)

# One xdist worker runs them all, so they share one cluster (marked here, where
# xdist's loadgroup sees it at collection).
pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(300),
              pytest.mark.xdist_group("ray")]

#: 1..3 independent, 4 after 1, 5 after 2 and 3, 6 after 4 and 5.
GRAPH = {1: [], 2: [], 3: [], 4: [1], 5: [2, 3], 6: [4, 5]}


def working(repo: RemoteRepo, issue: int) -> bool:
    # The demo agent's or the scripted agent's first line.
    return "agent: working" in repo.log(issue)


def test_batch_with_dependencies_runs_on_the_cluster_and_pushes_every_branch(
    ray_cluster: Cluster, pirun_cli: Pirun, tmp_path: Path
) -> None:
    repo = make_remote_repo(tmp_path / "batch")
    repo.write_config(**ray_config(ray_cluster, max_concurrent=4))
    repo.add_issues(GRAPH)

    result = pirun_cli.run(repo.path, "batch", *map(str, GRAPH), "--json",
                           env={"PIRUN_DEMO_DELAY": "0.5"})

    assert result.returncode == 0, (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert data["layers"] == [[1, 2, 3], [4, 5], [6]]
    items = {item["issue"]: item for item in data["results"]}
    assert {n: item["state"] for n, item in items.items()} == dict.fromkeys(GRAPH, "complete")
    for number, blockers in GRAPH.items():
        for blocker in blockers:
            assert items[number]["started"] >= items[blocker]["finished"], (number, blocker)

    # Every issue branch is on the remote with the agent's commit, and the local
    # branch (the local worktree) was brought up to it.
    branches = {f"issue-{n}-issue-{n}" for n in GRAPH}
    assert branches <= repo.remote_branches()
    for number in GRAPH:
        branch = f"issue-{number}-issue-{number}"
        subject = git(repo.bare, "log", "-1", "--format=%s", branch)
        assert subject == f"demo: work for issue #{number}"
        assert git(repo.path, "rev-parse", branch) == git(repo.bare, "rev-parse", branch)
        log = repo.log(number)
        assert f"[pirun-ray] pushed {branch}" in log
        assert f"###TASK_COMPLETE_{number}###" in log
        # Nothing of Ray's own logging in the agent's log.
        assert "dashboard_sdk" not in log

    # The agents ran as Ray jobs, on both nodes of the cluster.
    jobs = jobs_of(ray_cluster, repo)
    assert sorted(jobs) == sorted(GRAPH)
    assert {str(job.status) for job in jobs.values()} == {"SUCCEEDED"}
    assert len({job.driver_node_id for job in jobs.values()}) == 2

    logs = pirun_cli.run(repo.path, "logs", "4")
    assert logs.returncode == 0 and "demo agent: working" in logs.stdout


def test_stop_stops_the_ray_job_and_pushes_nothing(
    ray_cluster: Cluster, pirun_cli: Pirun, tmp_path: Path
) -> None:
    repo = make_remote_repo(tmp_path / "stop")
    repo.write_config(**ray_config(ray_cluster))
    repo.add_issues({1: []})

    started = pirun_cli.run(repo.path, "run", "1", "--no-attach",
                            env={"PIRUN_DEMO_DELAY": "120"})
    assert started.returncode == 0, (started.stdout, started.stderr)
    wait_until(lambda: working(repo, 1), 120, "the agent to start on the cluster")
    listed = pirun_cli.run(repo.path, "list")
    assert "pi-issue-1" in listed.stdout

    stopped = pirun_cli.run(repo.path, "stop", "1")

    assert stopped.returncode == 0, (stopped.stdout, stopped.stderr)
    wait_until(lambda: str(jobs_of(ray_cluster, repo)[1].status) == "STOPPED", 30,
               "the Ray job to be stopped")
    assert repo.status(1)["status"] == "error"
    assert "[pirun-ray] stopped Ray job" in repo.log(1)
    assert repo.remote_branches() == {"main"}


#: A prompt template naming the worktree, to see what the agent on the node reads.
WORKFLOW = """# Issue #$number: $title

$body

Worktree in the prompt: $worktree
"""


def node_paths(repo: RemoteRepo, issue: int) -> dict[str, str]:
    """What the scripted agent said about where it ran and the paths it was given."""
    log = repo.log(issue)
    cwd = re.search(r"^scripted agent: working in (\S+)$", log, re.M)
    given = re.search(r"^scripted agent: prompt_file=(\S+) worktree=(\S+) repo=(\S+)$",
                      log, re.M)
    prompt = re.search(r"^scripted agent: Worktree in the prompt: (\S+)$", log, re.M)
    assert cwd and given and prompt, log
    return {"cwd": cwd[1], "prompt_file": given[1], "worktree": given[2], "repo": given[3],
            "prompt_worktree": prompt[1]}


def test_a_lost_node_fails_its_running_issues_and_the_batch_goes_on_on_the_other_nodes(
    ray_cluster: Cluster, add_doomed_node: Callable[[], Node], pirun_cli: Pirun,
    tmp_path: Path
) -> None:
    release = tmp_path / "release"
    # Runs on the worker node and takes both its `pool` units until released, so
    # until then the jobs of the batch below (which ask for `pool`) can only be
    # placed on the doomed node.
    elsewhere = make_remote_repo(tmp_path / "elsewhere")
    elsewhere.write_config(**ray_config(ray_cluster, agent=SCRIPTED_AGENT,
                                        resources={"worker_node": 1, "pool": 2}))
    elsewhere.add_issues({1: []}, bodies={1: f"[wait:{release}]"})
    occupier = pirun_cli.start(elsewhere.path, "batch", "1", "--json")
    doomed_node = add_doomed_node()
    # A running job holds its resources.
    wait_until(lambda: str(getattr(jobs_of(ray_cluster, elsewhere).get(1), "status", ""))
               == "RUNNING", 120, "the job on the worker node to run")

    # Four independent issues, two at a time: 1 and 2 run on the doomed node until
    # it is lost; 3 and 4 have not started then.
    repo = make_remote_repo(tmp_path / "lost")
    repo.write_config(**ray_config(ray_cluster, max_concurrent=2, agent=SCRIPTED_AGENT,
                                   resources={"pool": 1}))
    repo.add_issues({1: [], 2: [], 3: [], 4: []},
                    bodies={1: "[sleep:300]", 2: "[sleep:300]"})
    workflows = repo.path / ".pirun" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "default.md").write_text(WORKFLOW, encoding="utf-8")
    lost = pirun_cli.start(repo.path, "batch", "1", "2", "3", "4", "--continue-on-error",
                           "--json")
    wait_until(lambda: working(repo, 1) and working(repo, 2), 120,
               "two agents to start on the doomed node")
    assert repo.status(3) is None and repo.status(4) is None

    os.kill(doomed_node.raylet_pid, signal.SIGKILL)
    release.touch()

    out, err = lost.communicate(timeout=120)
    assert lost.returncode == 1, (out, err)
    items = {item["issue"]: item for item in json.loads(out)["results"]}
    assert {n: item["state"] for n, item in items.items()} == {
        1: "error", 2: "error", 3: "complete", 4: "complete"}
    for number in (1, 2):
        assert repo.status(number)["error_message"] == "node lost"
    # Each later issue took the slot of a lost one.
    starts = sorted(items[n]["started"] for n in (3, 4))
    ends = sorted(items[n]["finished"] for n in (1, 2))
    assert starts[0] >= ends[0] and starts[1] >= ends[1]
    # Jobs Ray gave up on publish nothing, even though their agents had a head start;
    # the later issues ran on the surviving worker node and pushed their branches.
    assert repo.remote_branches() == {"main", "issue-3-issue-3", "issue-4-issue-4"}
    for number in (3, 4):
        branch = f"issue-{number}-issue-{number}"
        assert git(repo.bare, "log", "-1", "--format=%s", branch) == (
            f"scripted: work for issue #{number}")
        assert git(repo.path, "rev-parse", branch) == git(repo.bare, "rev-parse", branch)

    # The issue running on the worker node when the other node was lost completed.
    out, err = occupier.communicate(timeout=60)
    assert occupier.returncode == 0, (out, err)
    assert "issue-1-issue-1" in elsewhere.remote_branches()
    worker_node_id = jobs_of(ray_cluster, elsewhere)[1].driver_node_id
    jobs = jobs_of(ray_cluster, repo)
    assert {str(jobs[n].status) for n in (3, 4)} == {"SUCCEEDED"}
    assert {jobs[n].driver_node_id for n in (3, 4)} == {worker_node_id}
    assert jobs[1].driver_node_id not in (worker_node_id, None)

    # {repo}, {worktree} and {prompt_file} in the agent's argv, and $worktree in its
    # prompt, were the node's clone, not the paths on this machine.
    for number in (3, 4):
        paths = node_paths(repo, number)
        clone = paths["cwd"]
        assert clone != str(repo.path) and "/.worktrees/" not in clone
        assert paths["repo"] == paths["worktree"] == paths["prompt_worktree"] == clone
        assert paths["prompt_file"] == f"{clone}/.pirun-prompt.md"
