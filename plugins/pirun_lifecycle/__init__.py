"""pirun plugin: lifecycle (work in progress)."""
