["pi", "--mode", "json", "hello"]
