["codex", "Read the task in /tmp/pirun-fx/codex/tui-signin-enter-80x24/prompt.md and carry it out, following its instructions."]
