["pi", "--print", "@/tmp/pirun-fx/pi/preset-print/prompt.md"]
