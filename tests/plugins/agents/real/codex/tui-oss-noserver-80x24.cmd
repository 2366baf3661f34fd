["codex", "--oss", "Read the task in /tmp/pirun-fx/codex/tui-oss-noserver-80x24/prompt.md and carry it out, following its instructions."]
