["codex", "exec", "Read the task in /tmp/pirun-fx/codex/preset-print/prompt.md and carry it out, following its instructions."]
