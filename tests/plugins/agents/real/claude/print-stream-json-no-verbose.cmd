["claude", "-p", "--output-format", "stream-json", "hello"]
