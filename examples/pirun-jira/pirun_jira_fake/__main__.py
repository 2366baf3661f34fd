"""Run the fake Jira on loopback for a demo: `python -m pirun_jira_fake [issues.json] [port]`.

`issues.json` is a list of issues in the search's shape (or `{"issues": [...]}`); without it
a three-issue demo project is served. Any email and token are accepted. Stop with Ctrl-C.
"""

from __future__ import annotations

import json
import sys
import time

from pytest_httpserver import HTTPServer

from . import make_issue, serve_issues

DEMO = [
    make_issue("DEMO-1", "Add a health check endpoint", labels=["agent"],
               description="Expose GET /health returning 200 and the build version."),
    make_issue("DEMO-2", "Report the health check in the dashboard", labels=["agent"],
               blocked_by=["DEMO-1"]),
    make_issue("DEMO-3", "Pick a web framework", category="done", status="Done",
               resolution="Done", blocks=["DEMO-1"]),
]


def main(argv: list[str]) -> int:
    issues = DEMO
    port = 8080
    for arg in argv:
        if arg.isdigit():
            port = int(arg)
        else:
            with open(arg, encoding="utf-8") as handle:
                data = json.load(handle)
            issues = data["issues"] if isinstance(data, dict) else data
    server = HTTPServer(host="127.0.0.1", port=port)
    serve_issues(server, issues)
    server.start()
    print(f"fake Jira serving {len(issues)} issue(s) at {server.url_for('/').rstrip('/')}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
