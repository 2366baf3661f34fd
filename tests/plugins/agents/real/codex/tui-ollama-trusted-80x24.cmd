["codex", "-c", "model_provider=ollama", "Read the task in /tmp/pirun-fx/codex/tui-ollama-trusted-80x24/prompt.md and carry it out, following its instructions."]
