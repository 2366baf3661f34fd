"""Notifications reach a webhook and the desktop when issues finish or wait."""

from __future__ import annotations

import json
import os
import stat

from featureutil import wait_until

FINISH = "import sys; print(f'###TASK_COMPLETE_{sys.argv[1]}###')"
FAIL = "import sys; print(f'###TASK_ERROR_{sys.argv[1]}### tests are red')"


def test_webhook_receives_json_when_an_issue_completes(repo, pirun, httpserver, agent_script):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    repo.write_config(backend="process", agent={"command": agent_script(FINISH)},
                      notify={"webhook": httpserver.url_for("/hook")})
    repo.add_issue(1, "Ship it")
    assert pirun("run", "1", "--no-attach").exit_code == 0
    wait_until(lambda: httpserver.log, what="webhook call")
    request, _ = httpserver.log[0]
    payload = json.loads(request.data)
    assert payload["event"] == "issue_finished"
    assert payload["issue"] == 1
    assert payload["status"] == "complete"
    assert payload["text"] == "pirun: issue #1 complete"


def test_desktop_notification_names_the_failure(repo, pirun, tmp_path, agent_script):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "notify-send.json"
    fake = bin_dir / "notify-send"
    fake.write_text(
        "#!/usr/bin/env python3\nimport json, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    repo.write_config(backend="process", agent={"command": agent_script(FAIL)},
                      notify={"desktop": True})
    repo.add_issue(2, "Fix the build")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    assert pirun("run", "2", "--no-attach", env=env).exit_code == 0
    args = wait_until(lambda: record.exists() and json.loads(record.read_text()),
                      what="notify-send call")
    assert args[-2:] == ["pirun", "issue #2 failed: tests are red"]


def test_failing_webhook_never_fails_the_run(repo, pirun, httpserver, agent_script):
    httpserver.expect_request("/hook").respond_with_data("boom", status=500)
    repo.write_config(backend="process", agent={"command": agent_script(FINISH)},
                      notify={"webhook": httpserver.url_for("/hook")})
    repo.add_issue(3, "Anything")
    assert pirun("run", "3", "--no-attach").exit_code == 0
    record = wait_until(lambda: (r := repo.status(3)) and r["status"] != "running" and r)
    assert record["status"] == "complete"


def test_batch_end_posts_a_summary_and_rings_the_bell(repo, pirun, httpserver, agent_script):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    repo.write_config(backend="process", agent={"command": agent_script(FINISH)},
                      notify={"webhook": httpserver.url_for("/hook"), "bell": True})
    repo.add_issue(1, "One")
    repo.add_issue(2, "Two", blocked_by=[1])
    result = pirun("batch", "1", "2")
    assert result.exit_code == 0, result.stderr

    def events() -> list[dict]:
        return [json.loads(request.data) for request, _ in httpserver.log]

    summary = [event for event in events() if event["event"] == "batch_finished"]
    assert len(summary) == 1
    assert summary[0]["complete"] == 2
    assert summary[0]["failed"] == 0
    # Each issue's own notification comes from its exec wrapper once its record says
    # `complete`: the batch may have seen that, and ended, a moment before.
    wait_until(lambda: sorted(e["issue"] for e in events() if e["event"] == "issue_finished")
               == [1, 2], what="both issues' notifications")
    # The batch's own end rings the bell on its stderr (issues ring in their sessions).
    assert "\a" in result.stderr
