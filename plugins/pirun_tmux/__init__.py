"""pirun plugin: tmux (work in progress)."""
