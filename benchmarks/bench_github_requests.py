"""Requests the GitHub tracker sends to resolve a batch of issues with dependencies.

Starts a local server answering like GitHub (the fake the tests use), fills it with
`--size` generated issues, each blocked by up to three earlier ones (some of them
in another repository), resolves the whole batch through the plugin and prints

    {"issues": 100, "requests": 2, "seconds": 0.05, ...}

Goal: at most 3 requests for 100 issues (the Bash original made about 18 `gh`
calls per issue). `--rest` measures the fallback for servers without GraphQL
dependency fields instead.

    python benchmarks/bench_github_requests.py [--size 100] [--rest]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "plugins" / "github"))

import pirun_github  # noqa: E402
from fakegithub import FakeGitHub  # noqa: E402
from pirun_github.tracker import GitHubTracker  # noqa: E402
from pytest_httpserver import HTTPServer  # noqa: E402

from pirun.config import build_config  # noqa: E402


def populate(fake: FakeGitHub, size: int) -> int:
    """Issues 1..size of bench/app; returns the number of blocked-by edges."""
    edges = 0
    for n in range(1, 21):
        fake.add("upstream/lib", n, f"Upstream {n}", state="CLOSED" if n % 2 else "OPEN")
    for n in range(1, size + 1):
        earlier = sorted(b for b in {n - 1, n // 2, n - 7} if 0 < b < n)
        blockers: list[int | tuple[str, int]] = list(earlier)
        if n % 10 == 0:
            blockers.append(("upstream/lib", n // 10 % 20 + 1))
        fake.add("bench/app", n, f"Issue {n}", body=f"Work item {n}.", labels=["bench"],
                 blocked_by=blockers)
        edges += len(blockers)
    return edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100, help="issues in the batch")
    parser.add_argument("--rest", action="store_true", help="measure the REST fallback")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line of output, the JSON
    server = HTTPServer()
    server.start()
    try:
        fake = FakeGitHub(server, token="bench-token")
        edges = populate(fake, args.size)
        fake.install()
        with tempfile.TemporaryDirectory() as tmp:
            raw = {"tracker": "github",
                   "github": {"repo": "bench/app", "api_url": fake.api_url,
                              "graphql": not args.rest}}
            config = build_config(Path(tmp), None, raw, [pirun_github.pirun_config_options()])
            tracker = GitHubTracker.from_config(config, token=fake.token)
            keys = [str(n) for n in range(1, args.size + 1)]

            start = time.perf_counter()
            issues = tracker.fetch(keys)
            seconds = time.perf_counter() - start
            batch_requests = len(server.log)

            # What the kernel asks next: the blockers outside the batch.
            outside = sorted({b.key for i in issues for b in i.blocked_by} - set(keys))
            tracker.fetch(outside)
            tracker.close()
    finally:
        server.stop()

    print(json.dumps({
        "issues": len(issues),
        "requests": batch_requests,
        "seconds": round(seconds, 3),
        "edges": edges,
        "mode": "rest" if args.rest else "graphql",
        "outside_blockers": len(outside),
        "outside_requests": len(server.log) - batch_requests,
    }))


if __name__ == "__main__":
    main()
