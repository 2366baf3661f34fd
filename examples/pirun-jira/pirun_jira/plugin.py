"""pirun glue: config options and the `jira` tracker's registration, and nothing else.

Written against pirun's plugin API (`pirun.api`). The tracker (`tracker`) and the
HTTP and data work under it (`client`, `model`, `adf`, which do not import pirun)
are imported when a repository uses Jira: every `pirun` command and every session's
exec wrapper loads this module, and httpx alone costs more than a command's work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pirun.api import Config, Option, Register, hookimpl

if TYPE_CHECKING:
    from .tracker import JiraTracker


@hookimpl
def pirun_config_options() -> dict[str, dict[str, Option]]:
    return {
        "jira": {
            "url": Option(str, None, "Site base URL, e.g. https://acme.atlassian.net"),
            "link_type": Option(
                str, "Blocks", "Issue link type whose inward links are blockers"
            ),
            "timeout": Option((int, float), 30, "Seconds to wait for one Jira request"),
            "max_retries": Option(int, 5, "Retries of a rate-limited or failed request"),
        }
    }


@hookimpl
def pirun_register_trackers(register: Register) -> None:
    register("jira", _jira_tracker)


def _jira_tracker(config: Config) -> JiraTracker:
    from .tracker import JiraTracker

    return JiraTracker.from_config(config)
