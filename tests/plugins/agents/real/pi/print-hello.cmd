["pi", "--print", "hello"]
