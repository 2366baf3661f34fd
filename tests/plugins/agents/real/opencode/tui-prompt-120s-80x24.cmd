["opencode", "--prompt", "Read the task in /tmp/pirun-fx/opencode/tui-prompt-120s-80x24/prompt.md and carry it out, following its instructions."]
