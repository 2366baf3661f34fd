["codex", "exec", "Read the task in /tmp/pirun-fx/codex/exec-in-pty-80x24/prompt.md and carry it out, following its instructions."]
