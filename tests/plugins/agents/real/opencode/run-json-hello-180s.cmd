["opencode", "run", "--format", "json", "hello"]
