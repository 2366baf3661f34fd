["codex", "exec", "hello"]
