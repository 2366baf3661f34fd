"""The HTTP side of the GitHub tracker: one httpx client, retries, rate limits, clean errors.

Retrying is tenacity's job. What this module adds is deciding *how long* to wait,
the way GitHub documents it: `retry-after` first, then `x-ratelimit-reset` once
`x-ratelimit-remaining` is 0, else (a secondary limit with no hint) an exponential
back-off from 60 s. Network errors and 5xx answers get a few short retries.

Every failure leaves as a one-line `TrackerError`, with the token scrubbed out of it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
import tenacity

from pirun.api import ConfigError, TrackerError, __version__, get_logger

log = get_logger("pirun.github")

API_VERSION = "2022-11-28"
#: GitHub: "wait at least one minute" after a secondary rate limit without a hint,
#: "and increase the wait exponentially" if it keeps happening.
SECONDARY_BASE_WAIT = 60.0
#: Network errors and 5xx are usually over in seconds; no point waiting longer.
TRANSIENT_MAX_WAIT = 30.0
#: A bound on Link-header pagination, so a server that links to itself cannot loop us.
MAX_PAGES = 1000

T = TypeVar("T")


def graphql_url(api_url: str) -> str:
    base = api_url.rstrip("/")
    # GitHub Enterprise Server serves REST at /api/v3 but GraphQL at /api/graphql.
    if base.endswith("/api/v3"):
        return base[: -len("v3")] + "graphql"
    return base + "/graphql"


def one_line(text: object, limit: int = 240) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


class RateLimited(Exception):
    """GitHub asked us to slow down. `wait` is None when it gave no hint."""

    def __init__(self, message: str, wait: float | None) -> None:
        super().__init__(message)
        self.message = message
        self.wait = wait


class Transient(Exception):
    """A network error or a 5xx answer: likely to go away if we retry soon.

    `sent` is False when the request cannot have reached GitHub (no connection was
    made), so even a request that is not safe to repeat can be retried.
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.sent = sent


class GitHubClient:
    """One connection pool and one token for a run; see the module docstring."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        max_retries: int = 5,
        max_wait: float = 900.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        origin = httpx.URL(api_url)
        if origin.scheme not in ("http", "https") or not origin.host:
            # Caught here: a bad URL would otherwise look like a network error, retried.
            raise ConfigError(
                f"configuration key 'github.api_url' must be an http(s) URL, got '{api_url}'"
            )
        self.api_url = api_url.rstrip("/")
        self.graphql_url = graphql_url(api_url)
        self.max_retries = max(0, max_retries)
        self.max_wait = max_wait
        self._token = token
        self._sleep = sleep
        self._clock = clock
        self._origin = origin
        self._http = httpx.Client(
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"pirun/{__version__}",
            },
            timeout=timeout,
            # Renamed repositories answer 301; httpx drops Authorization when a
            # redirect leaves the origin, so following them cannot leak the token.
            follow_redirects=True,
        )

    def __repr__(self) -> str:
        return f"GitHubClient({self.api_url!r})"

    def close(self) -> None:
        self._http.close()

    # -- errors ---------------------------------------------------------------------

    def redact(self, text: str) -> str:
        return text.replace(self._token, "[token]") if self._token else text

    def error(self, message: str) -> TrackerError:
        return TrackerError(self.redact(one_line(message, 400)))

    @staticmethod
    def message_of(response: httpx.Response) -> str:
        """GitHub's own explanation (`{"message": ...}`), if the body has one."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if isinstance(body, dict):
            message = body.get("message")
            if not message and isinstance(body.get("errors"), list) and body["errors"]:
                first = body["errors"][0]
                message = first.get("message") if isinstance(first, dict) else first
            return one_line(message or "")
        return ""

    def json(self, response: httpx.Response, what: str, verb: str = "fetching") -> Any:
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "")
            found = (
                "an HTML page instead of JSON" if "html" in kind else "invalid or truncated JSON"
            )
            raise self.error(
                f"GitHub returned {found} (HTTP {response.status_code}) while {verb} {what}"
            ) from None

    # -- retries ----------------------------------------------------------------------

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            if exc.wait is not None:
                return exc.wait
            return min(SECONDARY_BASE_WAIT * 2 ** (state.attempt_number - 1), self.max_wait)
        return min(2.0 ** (state.attempt_number - 1), TRANSIENT_MAX_WAIT)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "github.retry",
            reason=self.redact(str(exc)),
            wait_seconds=round(wait, 1),
            attempt=state.attempt_number,
        )

    def _retrying(
        self, fn: Callable[[], T], what: str, verb: str = "fetching", *, repeatable: bool = True
    ) -> T:
        """Run `fn`, retrying rate limits and transient failures.

        A request that must not be repeated (`repeatable=False`: creating something)
        is retried only when GitHub cannot have received it: rate limits, and
        connections that were never made.
        """

        def retry(exc: BaseException) -> bool:
            if isinstance(exc, RateLimited):
                return True
            return isinstance(exc, Transient) and (repeatable or not exc.sent)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retry),
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except RateLimited as exc:
            raise self.error(
                f"{exc.message} while {verb} {what}, still after {self.max_retries} "
                "retries: try again later"
            ) from None
        except Transient as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            tries = f"gave up after {attempts} attempts" if attempts > 1 else "not retried"
            raise self.error(f"{exc.message} while {verb} {what} ({tries})") from None

    def _rate_limit(
        self, response: httpx.Response, what: str, forced: bool, verb: str = "fetching"
    ) -> None:
        """Raise RateLimited if `response` is GitHub telling us to slow down."""
        headers = response.headers
        wait: float | None = None
        limited = forced or response.status_code == 429
        retry_after = headers.get("retry-after")
        # GitHub sends seconds; an HTTP date would count as no hint.
        if retry_after is not None and _is_number(retry_after):
            wait, limited = max(float(retry_after), 0.0), True
        reset = headers.get("x-ratelimit-reset", "")
        if wait is None and headers.get("x-ratelimit-remaining") == "0":
            limited = True
            if _is_number(reset):
                wait = max(float(reset) - self._clock(), 0.0) + 1
        if not limited and "rate limit" in self.message_of(response).lower():
            limited = True  # a secondary limit: a 403 with only a message to say so
        if not limited:
            return
        if wait is not None and wait > self.max_wait:
            minutes = math.ceil(wait / 60)
            raise self.error(
                f"GitHub rate limit exceeded while {verb} {what}; it resets in about "
                f"{minutes} min (more than github.max_wait): try again later"
            )
        kind = "secondary rate limit" if wait is None else "rate limit"
        raise RateLimited(f"GitHub {kind} exceeded (HTTP {response.status_code})", wait)

    # -- requests ---------------------------------------------------------------------

    def _send(
        self, method: str, url: str, what: str, verb: str = "fetching", **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            reason = one_line(exc) or type(exc).__name__
            # No connection, no request: GitHub never saw it.
            unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
            raise Transient(
                f"cannot reach GitHub at {self.api_url}: {reason}", sent=not unsent
            ) from None
        except httpx.HTTPError as exc:
            raise self.error(f"GitHub request failed while {verb} {what}: {exc}") from None
        status = response.status_code
        if status == 401:
            raise self.error(
                "GitHub authentication failed (HTTP 401): check GH_TOKEN or GITHUB_TOKEN, "
                "or run `gh auth login`"
            )
        if status in (403, 429):
            self._rate_limit(response, what, forced=False, verb=verb)
        if status >= 500:
            raise Transient(f"GitHub answered HTTP {status}")
        return response

    def graphql(self, query: str, what: str) -> dict[str, Any]:
        """POST a query; the decoded body (`data` and `errors` are the caller's)."""

        def once() -> dict[str, Any]:
            response = self._send("POST", self.graphql_url, what, json={"query": query})
            if response.status_code >= 400:
                raise self.error(
                    f"GitHub GraphQL request failed (HTTP {response.status_code}) while "
                    f"fetching {what}: {self.message_of(response) or response.reason_phrase}"
                )
            body = self.json(response, what)
            if not isinstance(body, dict):
                raise self.error(f"GitHub returned malformed GraphQL data while fetching {what}")
            errors = body.get("errors")
            if isinstance(errors, list) and any(
                isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors
            ):
                # GraphQL reports its primary limit as an error inside a 200 answer.
                self._rate_limit(response, what, forced=True)
            return body

        return self._retrying(once, what)

    def get(
        self, url: str, what: str, params: Mapping[str, Any] | None = None
    ) -> httpx.Response | None:
        """GET a REST resource; None when it does not exist (404, or 410 once deleted)."""
        response = self._retrying(lambda: self._send("GET", url, what, params=params), what)
        if response.status_code in (404, 410):
            return None
        if response.status_code >= 400:
            raise self.error(
                f"GitHub request failed (HTTP {response.status_code}) while fetching {what}: "
                f"{self.message_of(response) or response.reason_phrase}"
            )
        return response

    def post(
        self, url: str, what: str, body: Mapping[str, Any], *, verb: str, repeatable: bool = False
    ) -> httpx.Response:
        """POST `body` as JSON to a REST resource; the answer, whatever its status.

        Creating something is not safe to repeat, so only requests GitHub never saw are
        retried, unless `repeatable` says a second copy would be refused anyway.
        Errors read "... while {verb} {what}".
        """
        return self._retrying(
            lambda: self._send("POST", url, what, verb, json=dict(body)),
            what, verb, repeatable=repeatable,
        )

    def patch(self, url: str, what: str, body: Mapping[str, Any], *, verb: str) -> httpx.Response:
        """PATCH `body` as JSON: setting fields twice sets them once, so it is retried
        like a GET."""
        return self._retrying(
            lambda: self._send("PATCH", url, what, verb, json=dict(body)),
            what, verb, repeatable=True,
        )

    def get_list(
        self, url: str, what: str, params: Mapping[str, Any] | None = None
    ) -> list[Any] | None:
        """Every item of a paginated REST list, following `Link: <...>; rel="next"`."""
        response = self.get(url, what, params)
        if response is None:
            return None
        items: list[Any] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.json(response, what)
            if not isinstance(page, list):
                raise self.error(
                    f"GitHub returned malformed data while fetching {what}: expected a list"
                )
            items.extend(page)
            next_url = response.links.get("next", {}).get("url")
            if not next_url or next_url in seen:
                return items
            seen.add(next_url)
            self._same_origin(next_url, what)
            next_response = self.get(next_url, what)
            if next_response is None:
                return items
            response = next_response
        raise self.error(f"GitHub kept paginating past {MAX_PAGES} pages while fetching {what}")

    def _same_origin(self, url: str, what: str) -> None:
        # The token goes with every request: never follow a link to another server.
        target = httpx.URL(url)
        if (target.scheme, target.host, target.port) != (
            self._origin.scheme, self._origin.host, self._origin.port
        ):
            raise self.error(
                f"GitHub sent a next-page link to another server while fetching {what}"
            )
