"""The Ray backend on a real local Ray cluster: a head and a worker node started as
separate `ray start` processes, a bare repository as the remote, the demo agent.

Slow (each Ray job costs seconds of start-up); skipped where Ray is not installed.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

pytest.importorskip("ray")

from raycluster import Cluster
from rayutil import (
    Pirun,
    RemoteRepo,
    git,
    jobs_of,
    make_remote_repo,
    ray_config,
    wait_until,
)

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(300)]

#: 1..3 independent, 4 after 1, 5 after 2 and 3, 6 after 4 and 5.
GRAPH = {1: [], 2: [], 3: [], 4: [1], 5: [2, 3], 6: [4, 5]}


def working(repo: RemoteRepo, issue: int) -> bool:
    return "demo agent: working" in repo.log(issue)


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


def test_losing_a_node_fails_only_the_issues_running_there(
    ray_cluster: Cluster, pirun_cli: Pirun, tmp_path: Path
) -> None:
    # A third node, only for this test: killing its raylet is losing it.
    doomed = ray_cluster.add_worker("doomed", {"pirun_agent": 2, "doomed": 2})
    ray_cluster.wait_for_nodes(3)
    on_doomed = make_remote_repo(tmp_path / "doomed")
    on_doomed.write_config(**ray_config(ray_cluster, resources={"doomed": 1}))
    on_doomed.add_issues({1: [], 2: []})
    on_head = make_remote_repo(tmp_path / "head")
    on_head.write_config(**ray_config(ray_cluster, resources={"head_node": 1}))
    on_head.add_issues({1: []})

    lost = pirun_cli.start(on_doomed.path, "batch", "1", "2", "--continue-on-error", "--json",
                           env={"PIRUN_DEMO_DELAY": "120"})
    survivor = pirun_cli.start(on_head.path, "batch", "1", "--json",
                               env={"PIRUN_DEMO_DELAY": "15"})
    wait_until(lambda: working(on_doomed, 1) and working(on_doomed, 2) and working(on_head, 1),
               120, "all three agents to start")

    os.kill(doomed.raylet_pid, signal.SIGKILL)

    out, err = lost.communicate(timeout=120)
    assert lost.returncode == 1, (out, err)
    items = {item["issue"]: item for item in json.loads(out)["results"]}
    for number in (1, 2):
        assert items[number]["state"] == "error"
        assert on_doomed.status(number)["error_message"] == "node lost"
    # A job Ray gave up on publishes nothing, even though its agent had a head start.
    assert on_doomed.remote_branches() == {"main"}

    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, (out, err)
    assert on_head.status(1)["status"] == "complete"
    assert "issue-1-issue-1" in on_head.remote_branches()
    jobs = jobs_of(ray_cluster, on_head)
    assert str(jobs[1].status) == "SUCCEEDED"
