"""pirun plugin: worktree (work in progress)."""
