"""The HTTP side of the Jira tracker: one httpx client, retries, pagination, clean errors.

Searching uses Jira Cloud's enhanced JQL search, `POST /rest/api/3/search/jql`: the old
`/rest/api/3/search` (startAt/total) is removed (CHANGE-2046). Pages are chained with
`nextPageToken`, which the last page leaves out.

Retrying is tenacity's job; this module decides how long to wait the way Atlassian documents
it (developer.atlassian.com/cloud/jira/platform/rate-limiting): `Retry-After` seconds on a
429 (and on some 503s), else an exponential back-off. Network errors and 5xx answers get a
few short retries. A search is read-only, so every attempt is safe to repeat.

Every failure leaves as a one-line `JiraError`, with the API token (and the Basic credential
built from it) scrubbed out of it.
"""

from __future__ import annotations

import base64
import email.utils
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC
from typing import Any

import httpx
import structlog
import tenacity

log = structlog.get_logger("pirun.jira")

SEARCH_PATH = "/rest/api/3/search/jql"
#: Keys per `key in (...)` request: short enough for any proxy, one page at maxResults=100.
KEYS_PER_REQUEST = 100
#: A bound on pagination, so a server that keeps handing out tokens cannot loop us.
MAX_PAGES = 1000
#: A 429 without Retry-After: wait this long, doubling per attempt (capped at max_wait).
RATE_LIMIT_BASE_WAIT = 5.0
#: Network errors and 5xx are usually over in seconds; no point waiting longer.
TRANSIENT_MAX_WAIT = 30.0

#: A Jira issue key: project key (a letter, then letters, digits or `_`), `-`, a number.
KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
_KEY_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9]+")


def one_line(text: object, limit: int = 240) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def normalize_key(text: str) -> str | None:
    """`proj-12` -> `PROJ-12`; None when `text` is not shaped like an issue key."""
    key = text.strip().upper()
    return key if KEY_RE.match(key) else None


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (seconds, or an HTTP date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


class JiraError(Exception):
    """Jira could not answer. The message is one readable line without any credential.

    `status` is the HTTP status when Jira answered, None for network failures and the like;
    `messages` are Jira's own explanations (`errorMessages` and `errors`), already redacted.
    """

    def __init__(
        self, message: str, *, status: int | None = None, messages: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.messages = tuple(messages)


class _RetryableError(Exception):
    """A 429, a 5xx or a network error. `wait` is Jira's hint in seconds, if it gave one."""

    def __init__(self, message: str, *, wait: float | None, rate_limited: bool) -> None:
        super().__init__(message)
        self.message = message
        self.wait = wait
        self.rate_limited = rate_limited


class JiraClient:
    """One connection pool and one set of credentials for a run; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        email: str,
        token: str,
        timeout: float = 30,
        max_retries: int = 5,
        max_wait: float = 900,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = httpx.URL(base_url.strip())
        if url.scheme not in ("http", "https") or not url.host:
            # Caught here: a bad URL would otherwise look like a network error, retried.
            raise JiraError(
                f"the Jira site URL must be an http(s) URL such as "
                f"https://acme.atlassian.net, got '{one_line(base_url, 80)}'"
            )
        self.base_url = str(url).rstrip("/")
        self.max_retries = max(0, int(max_retries))
        self.max_wait = float(max_wait)
        self._secrets = [
            s
            for s in (token, base64.b64encode(f"{email}:{token}".encode()).decode())
            if s and len(s) >= 4
        ]
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(email, token),
            headers={"Accept": "application/json", "User-Agent": "pirun-jira"},
            timeout=timeout,
            # A redirect would turn the POST into a GET (301/302) and usually means a wrong
            # jira.url (http:// instead of https://, a custom domain): say so instead.
            follow_redirects=False,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"JiraClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JiraClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- errors -------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def error(
        self, message: str, *, status: int | None = None, messages: Sequence[str] = ()
    ) -> JiraError:
        return JiraError(
            self.redact(one_line(message, 400)),
            status=status,
            messages=[self.redact(one_line(m, 400)) for m in messages],
        )

    @staticmethod
    def messages_of(response: httpx.Response) -> list[str]:
        """Jira's explanations from an ErrorCollection body, if it has one."""
        try:
            body = response.json()
        except ValueError:
            return []
        if not isinstance(body, dict):
            return []
        found: list[str] = []
        error_messages = body.get("errorMessages")
        if isinstance(error_messages, list):
            found += [str(m) for m in error_messages if m]
        errors = body.get("errors")
        if isinstance(errors, dict):
            found += [f"{field}: {text}" for field, text in errors.items() if text]
        if not found and isinstance(body.get("message"), str):
            found.append(body["message"])  # gateway-style errors: {"message": "..."}
        return [one_line(m) for m in found]

    def _explain(self, response: httpx.Response) -> str:
        messages = self.messages_of(response)
        return "; ".join(messages) if messages else response.reason_phrase

    # -- retries ------------------------------------------------------------------------

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableError) and exc.wait is not None:
            return exc.wait
        if isinstance(exc, _RetryableError) and exc.rate_limited:
            return min(RATE_LIMIT_BASE_WAIT * 2 ** (state.attempt_number - 1), self.max_wait)
        return min(2.0 ** (state.attempt_number - 1), TRANSIENT_MAX_WAIT, self.max_wait)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "jira.retry",
            reason=self.redact(str(exc)),
            wait_seconds=round(wait, 1),
            attempt=state.attempt_number,
        )

    def _send_once(self, body: Mapping[str, Any], what: str) -> httpx.Response:
        try:
            response = self._http.post(SEARCH_PATH, json=dict(body))
        except httpx.TransportError as exc:
            reason = one_line(exc) or type(exc).__name__
            raise _RetryableError(
                f"cannot reach Jira at {self.base_url}: {reason}", wait=None, rate_limited=False
            ) from None
        except httpx.HTTPError as exc:
            raise self.error(f"Jira request failed while {what}: {exc}") from None
        status = response.status_code
        if status == 429 or status >= 500:
            wait = parse_retry_after(response.headers.get("retry-after"), self._clock)
            kind = "rate limit exceeded" if status == 429 else "server error"
            if wait is not None and wait > self.max_wait:
                minutes = max(1, math.ceil(wait / 60))
                raise self.error(
                    f"Jira {kind} (HTTP {status}) while {what}: it asks to wait about "
                    f"{minutes} min, more than max_wait ({self.max_wait:g} s); try again later",
                    status=status,
                )
            raise _RetryableError(
                f"Jira {kind} (HTTP {status})", wait=wait, rate_limited=status == 429
            )
        return response

    def _send(self, body: Mapping[str, Any], what: str) -> httpx.Response:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_RetryableError),
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._send_once, body, what)
        except _RetryableError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            tries = f"gave up after {attempts} attempts" if attempts > 1 else "not retried"
            raise self.error(f"{exc.message} while {what} ({tries})") from None

    # -- requests -----------------------------------------------------------------------

    def _check(self, response: httpx.Response, what: str) -> dict[str, Any]:
        status = response.status_code
        if status == 401:
            raise self.error(
                "Jira authentication failed (HTTP 401): check the account email and API token "
                "(JIRA_EMAIL, JIRA_API_TOKEN; tokens are made at "
                "https://id.atlassian.com/manage-profile/security/api-tokens)",
                status=status,
                messages=self.messages_of(response),
            )
        if status == 403:
            raise self.error(
                f"Jira refused access (HTTP 403) while {what}: {self._explain(response)}",
                status=status,
                messages=self.messages_of(response),
            )
        if status == 404:
            raise self.error(
                f"Jira has no search API at {self.base_url}{SEARCH_PATH} (HTTP 404): check "
                "the site URL (e.g. https://acme.atlassian.net)",
                status=status,
            )
        if 300 <= status < 400:
            target = response.headers.get("location", "")
            raise self.error(
                f"Jira redirected (HTTP {status}) to {one_line(target, 120) or 'elsewhere'}: "
                "set the site URL to where Jira really is (https, no path)",
                status=status,
            )
        if status >= 400:
            messages = self.messages_of(response)
            raise self.error(
                f"Jira rejected the request (HTTP {status}) while {what}: "
                f"{self._explain(response)}",
                status=status,
                messages=messages,
            )
        try:
            body = response.json()
        except ValueError:
            kind = response.headers.get("content-type", "")
            found = "an HTML page instead of JSON" if "html" in kind else "invalid JSON"
            raise self.error(
                f"Jira returned {found} (HTTP {status}) while {what}: check the site URL",
                status=status,
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("issues", []), list):
            raise self.error(f"Jira returned malformed search results while {what}")
        return body

    def search(
        self, jql: str, fields: Iterable[str], max_results: int = 100, *, what: str = ""
    ) -> list[dict[str, Any]]:
        """Every issue `jql` matches, following `nextPageToken` across pages.

        `fields` is sent as given: the enhanced search returns only ids without it. Issues
        repeated across pages (search results are eventually consistent) are kept once.
        """
        what = what or f"searching Jira for '{one_line(jql, 120)}'"
        body: dict[str, Any] = {
            "jql": jql,
            "fields": list(fields),
            "maxResults": max(1, int(max_results)),
        }
        issues: list[dict[str, Any]] = []
        seen_issues: set[str] = set()
        seen_tokens: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self._check(self._send(body, what), what)
            batch = page.get("issues") or []
            for issue in batch:
                if not isinstance(issue, dict):
                    continue
                ident = str(issue.get("id") or issue.get("key") or "")
                if ident and ident in seen_issues:
                    continue
                seen_issues.add(ident)
                issues.append(issue)
            token = page.get("nextPageToken")
            # The token is the documented signal (absent on the last page); `isLast` is only
            # advisory. An empty page or a token seen before ends it too, so we cannot loop.
            if not isinstance(token, str) or not token or not batch or token in seen_tokens:
                return issues
            seen_tokens.add(token)
            body["nextPageToken"] = token
        raise self.error(f"Jira kept paginating past {MAX_PAGES} pages while {what}")

    def issues_by_key(
        self,
        keys: Iterable[str],
        fields: Iterable[str] = ("summary", "status", "resolution", "labels", "issuelinks",
                                 "description", "parent"),
        *,
        chunk_size: int = KEYS_PER_REQUEST,
    ) -> list[dict[str, Any]]:
        """The issues with these keys, one `key in (...)` search per chunk of keys.

        Keys that are not shaped like issue keys are skipped. Keys Jira does not know (or
        that this account may not see) are left out, whichever way Jira says so: by leaving
        them out of the results, or by refusing the query with a 400 that names them, in
        which case they are dropped and the query asked again. A 400 that names none of
        our keys is split in halves until the culprits are isolated, within a budget; when
        every key was refused that way, the error is raised rather than returning nothing.
        """
        wanted: list[str] = []
        for raw in keys:
            key = normalize_key(str(raw))
            if key and key not in wanted:
                wanted.append(key)
        field_list = list(fields)
        size = max(1, int(chunk_size))
        found: dict[str, dict[str, Any]] = {}
        budget = [2 * len(wanted) + 10]  # requests, so a server refusing everything ends
        first_error: list[JiraError] = []
        unnamed: set[str] = set()
        for start in range(0, len(wanted), size):
            self._by_key(wanted[start:start + size], field_list, found, budget, first_error,
                         unnamed)
        if wanted and unnamed == set(wanted) and first_error:
            raise first_error[0]
        return list(found.values())

    def _by_key(
        self,
        chunk: list[str],
        fields: list[str],
        found: dict[str, dict[str, Any]],
        budget: list[int],
        first_error: list[JiraError],
        unnamed: set[str],
    ) -> None:
        pending = list(chunk)
        while pending:
            if budget[0] <= 0:
                raise first_error[0] if first_error else self.error(
                    "Jira kept refusing key searches; giving up"
                )
            budget[0] -= 1
            jql = f"key in ({', '.join(pending)})"
            what = f"fetching {len(pending)} Jira issue(s)"
            try:
                for issue in self.search(jql, fields, max_results=len(pending), what=what):
                    key = str(issue.get("key") or "")
                    if key:
                        found[key] = issue
                return
            except JiraError as exc:
                if exc.status != 400:
                    raise
                if not first_error:
                    first_error.append(exc)
                named = self._named_keys(exc.messages or (exc.message,), pending)
                if named:
                    log.info("jira.missing_keys", keys=sorted(named))
                    pending = [k for k in pending if k not in named]
                    continue
                if len(pending) == 1:
                    # Only the key varies in this query, so it is what Jira refuses.
                    log.info("jira.missing_keys", keys=pending, reason=exc.message)
                    unnamed.update(pending)
                    return
                half = len(pending) // 2
                self._by_key(pending[:half], fields, found, budget, first_error, unnamed)
                self._by_key(pending[half:], fields, found, budget, first_error, unnamed)
                return

    @staticmethod
    def _named_keys(messages: Iterable[str], pending: Sequence[str]) -> set[str]:
        """The keys of `pending` that Jira's error messages name (any wording)."""
        asked = set(pending)
        named: set[str] = set()
        for message in messages:
            for token in _KEY_TOKEN_RE.findall(message):
                if token.upper() in asked:
                    named.add(token.upper())
        return named
