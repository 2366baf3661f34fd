["claude", "-p", "Read the task in /tmp/pirun-fx/claude/preset-print/prompt.md and carry it out, following its instructions."]
