["opencode", "run", "hello"]
