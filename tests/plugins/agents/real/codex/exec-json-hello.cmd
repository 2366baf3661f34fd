["codex", "exec", "--json", "hello"]
