["pi", "--print", "--mode", "json", "hello"]
