"""Logging through structlog: quiet by default, `-v` human, `--log-json` machine.

structlog (with asyncio and rich's tracebacks behind it) costs more to import than
most `pirun` commands take to run, and most runs log nothing at the chosen level. So
loggers are cheap stand-ins that drop an event below the configured level on the spot
and import and configure structlog on the first event that is shown. A process that
never calls `configure_logging` (pirun used as a library, a test capturing logs with
`structlog.testing.capture_logs`) gets every event and structlog's own configuration.
"""

from __future__ import annotations

import sys
from typing import Any

# The standard library's numbers for the levels (importing `logging` costs more).
DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40

#: Events below this level are dropped before structlog is imported; None until
#: `configure_logging` is called.
_level: int | None = None
_json = False
#: Set by `configure_logging`, applied when the next event is shown.
_pending = False
#: The processor list last given to structlog here: structlog's configuration is
#: ours to replace only while it is the one we set (a test's capture_logs is not).
_ours: list[Any] | None = None


def configure_logging(verbosity: int, json_output: bool) -> None:
    global _level, _json, _pending
    level = WARNING
    if verbosity == 1:
        level = INFO
    elif verbosity >= 2:
        level = DEBUG
    if json_output:
        level = min(level, INFO)
    _level, _json, _pending = level, json_output, True


def _apply_configuration() -> None:
    global _pending, _ours
    import structlog

    _pending = False
    if structlog.is_configured() and structlog.get_config()["processors"] is not _ours:
        return
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if _json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    _ours = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        renderer,
    ]
    structlog.configure(
        processors=_ours,
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


class Logger:
    """What `structlog.get_logger(name)` returns, for the levels pirun logs at."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def _emit(self, level: int, method: str, event: str, fields: dict[str, Any]) -> None:
        if _level is not None and level < _level:
            return
        import structlog

        if _pending:
            _apply_configuration()
        logger = structlog.get_logger(self.name) if self.name else structlog.get_logger()
        getattr(logger, method)(event, **fields)

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(DEBUG, "debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(INFO, "info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(WARNING, "warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(ERROR, "error", event, fields)


def get_logger(name: str | None = None) -> Logger:
    """A logger for a module of pirun or of a plugin (`pirun.api.get_logger`)."""
    return Logger(name)
