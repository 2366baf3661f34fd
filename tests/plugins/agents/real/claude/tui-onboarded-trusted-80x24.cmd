["claude", "Read the task in /tmp/pirun-fx/claude/tui-onboarded-trusted-80x24/prompt.md and carry it out, following its instructions."]
