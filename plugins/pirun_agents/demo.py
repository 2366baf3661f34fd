"""The scripted demo agent: behaves like a coding agent without a model.

`python -m pirun_agents.demo ISSUE PROMPT_FILE` reads its prompt, "works" for a
moment, writes and commits a file, and prints the completion marker. An issue whose
prompt contains `[demo:fail]` fails on purpose with the error marker, to show error
handling. `PIRUN_DEMO_DELAY` sets the pause in seconds (default 1).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    issue, prompt_file = argv[0], Path(argv[1])
    prompt = prompt_file.read_text(encoding="utf-8")
    title = prompt.splitlines()[0].lstrip("# ") if prompt else f"issue {issue}"
    print(f"demo agent: working on {title}", flush=True)
    time.sleep(float(os.environ.get("PIRUN_DEMO_DELAY", "1")))
    if "[demo:fail]" in prompt:
        print(f"###TASK_ERROR_{issue}### the demo agent was asked to fail", flush=True)
        return 1
    # A key may hold `/` or `#` (`owner/repo#7`): the file name keeps letters and digits.
    stem = "".join(char if char.isascii() and char.isalnum() else "-" for char in issue)
    target = Path("demo") / f"issue-{stem}.md"
    target.parent.mkdir(exist_ok=True)
    shown = f"#{issue}" if issue.isascii() and issue.isdigit() else issue
    target.write_text(f"Work for issue {shown}.\n", encoding="utf-8")
    subprocess.run(["git", "add", str(target)], check=True)
    subprocess.run(
        # --allow-empty: a retry on a branch that already has this work still commits.
        ["git", "commit", "-q", "--allow-empty", "-m", f"demo: work for issue {shown}"],
        check=True,
        env={
            "GIT_AUTHOR_NAME": "pirun demo agent",
            "GIT_AUTHOR_EMAIL": "demo@pirun.invalid",
            "GIT_COMMITTER_NAME": "pirun demo agent",
            "GIT_COMMITTER_EMAIL": "demo@pirun.invalid",
            **os.environ,
        },
    )
    print(f"###TASK_COMPLETE_{issue}###", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
