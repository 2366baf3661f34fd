["claude", "-p", "hello"]
