"""A test agent for the Ray cluster tests, steered per issue by its prompt.

`python scripted_agent.py ISSUE PROMPT_FILE WORKTREE REPO` (the last three from
pirun's placeholders) prints where it runs and which paths it was given, then:

- `[sleep:N]` in the prompt: waits N seconds (issues that must still be running
  when a node is killed);
- `[wait:PATH]` in the prompt: waits until PATH exists (the test says when; the
  nodes are this machine), at most two minutes;

then commits a file and prints the completion marker, as the demo agent does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "pirun scripted agent",
    "GIT_AUTHOR_EMAIL": "agent@pirun.invalid",
    "GIT_COMMITTER_NAME": "pirun scripted agent",
    "GIT_COMMITTER_EMAIL": "agent@pirun.invalid",
}


def main(argv: list[str]) -> int:
    issue, prompt_file, worktree, repo = argv
    prompt = Path(prompt_file).read_text(encoding="utf-8")
    print(f"scripted agent: working in {os.getcwd()}", flush=True)
    print(f"scripted agent: prompt_file={prompt_file} worktree={worktree} repo={repo}",
          flush=True)
    for line in prompt.splitlines():
        if line.startswith("Worktree in the prompt: "):
            print(f"scripted agent: {line}", flush=True)
    if sleep := re.search(r"\[sleep:([\d.]+)\]", prompt):
        time.sleep(float(sleep.group(1)))
    if wait := re.search(r"\[wait:([^\]]+)\]", prompt):
        deadline = time.monotonic() + 120
        while not Path(wait.group(1)).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    target = Path(f"scripted-{issue}.md")
    target.write_text(f"Work for issue #{issue}.\n", encoding="utf-8")
    subprocess.run(["git", "add", str(target)], check=True)
    subprocess.run(["git", "commit", "-q", "-m", f"scripted: work for issue #{issue}"],
                   check=True, env={**IDENTITY, **os.environ})
    print(f"###TASK_COMPLETE_{issue}###", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
