"""A Jira Cloud tracker for pirun (example third-party plugin).

The pirun hooks live in `pirun_jira.plugin` (the `pirun` entry point); this package's other
modules (`client`, `adf`, `model`) do not import pirun, so they can be used and tested alone.
"""

__version__ = "0.1.0"
