["opencode", "run", "Read the task in /tmp/pirun-fx/opencode/preset-print/prompt.md and carry it out, following its instructions."]
