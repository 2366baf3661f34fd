["pi", "--offline", "--print", "hello"]
