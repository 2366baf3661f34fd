["pi", "@/tmp/pirun-fx/pi/tui-prompt-80x24/prompt.md"]
