["claude", "-p", "--output-format", "json", "hello"]
