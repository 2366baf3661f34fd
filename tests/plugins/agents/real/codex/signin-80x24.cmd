["codex"]
