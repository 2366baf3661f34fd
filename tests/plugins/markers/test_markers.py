"""The markers plugin: `###TASK_COMPLETE_<key>###` / `###TASK_ERROR_<key>###` in agent output."""

from __future__ import annotations

import pytest
from pirun_markers import MarkerDetector, pirun_make_detectors

from pirun.config import Config
from pirun.model import Issue, Outcome, Status, Workspace
from pirun.runtime import Runtime
from pirun.terminal import LineAssembler

COMPLETE = "###TASK_COMPLETE_42###"
ERROR = "###TASK_ERROR_42###"


@pytest.fixture
def config(repo) -> Config:
    return Runtime.load(repo.path).config


def first_outcome(detector: MarkerDetector, lines: list[str]) -> Outcome | None:
    for line in lines:
        outcome = detector.feed(line)
        if outcome is not None:
            return outcome
    return None


def detect(*lines: str, issue: str = "42") -> Outcome | None:
    return first_outcome(MarkerDetector(issue=issue), list(lines))


# --- what counts ---------------------------------------------------------------------------


def test_complete_marker_alone_on_a_line_is_complete() -> None:
    outcome = detect("working...", COMPLETE)
    assert outcome is not None
    assert outcome.status is Status.COMPLETE
    assert outcome.source == "marker"


@pytest.mark.parametrize(
    "line",
    [
        f"    {COMPLETE}",
        f"\t{COMPLETE}",
        f"│ {COMPLETE}",
        f"│ {COMPLETE}   │",
        f"● {COMPLETE}",
        f"⏺ {COMPLETE}",
        f"> {COMPLETE}",
        f"- {COMPLETE}",
        f"{COMPLETE}   ",
    ],
)
def test_complete_marker_after_blanks_frames_or_bullets_is_counted(line: str) -> None:
    outcome = detect(line)
    assert outcome is not None and outcome.status is Status.COMPLETE, repr(line)


def test_error_marker_with_reason_is_error_with_that_message() -> None:
    outcome = detect(f"{ERROR} tests fail: 3 failures in test_api.py")
    assert outcome is not None
    assert outcome.status is Status.ERROR
    assert outcome.message == "tests fail: 3 failures in test_api.py"
    assert outcome.source == "marker"


def test_error_marker_reason_after_colon_or_dash_is_trimmed() -> None:
    outcome = detect(f"● {ERROR}: cannot reach the database")
    assert outcome is not None and outcome.message == "cannot reach the database"


@pytest.mark.parametrize("line", [ERROR, f"{ERROR}   ", f"│ {ERROR} - "])
def test_error_marker_without_reason_gets_default_message(line: str) -> None:
    outcome = detect(line)
    assert outcome is not None
    assert outcome.status is Status.ERROR
    assert outcome.message == "agent reported an error"


# --- what does not count -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "issue"),
    [
        ("###TASK_COMPLETE_420###", "42"),
        ("###TASK_COMPLETE_42###", "4"),
        ("###TASK_COMPLETE_42###", "420"),
        ("###TASK_ERROR_420### boom", "42"),
        ("###TASK_COMPLETE_142###", "42"),
        ("###TASK_COMPLETE_042###", "42"),
        ("###TASK_COMPLETE_PROJ-1###", "PROJ-10"),
        ("###TASK_COMPLETE_PROJ-10###", "PROJ-1"),
        ("###TASK_COMPLETE_PROJ-1###", "1"),
        ("###TASK_COMPLETE_1###", "PROJ-1"),
        ("###TASK_COMPLETE_proj-1###", "PROJ-1"),
        ("###TASK_ERROR_XPROJ-1### boom", "PROJ-1"),
    ],
)
def test_marker_of_another_issue_is_not_counted(line: str, issue: str) -> None:
    assert detect(line, issue=issue) is None


@pytest.mark.parametrize(
    "line",
    [
        f"print `{COMPLETE}` when done",
        f"When you are done, print this marker: {COMPLETE}",
        f"`{COMPLETE}`",
        f"echo {COMPLETE}",
        f"I will print {ERROR} if something fails",
        "###TASK_COMPLETE_42##",
        "##TASK_COMPLETE_42###",
        "###task_complete_42###",
    ],
)
def test_marker_mentioned_mid_sentence_or_malformed_is_not_counted(line: str) -> None:
    assert detect(line) is None


def test_marker_inside_code_fence_is_ignored_and_after_closing_fence_counted() -> None:
    detector = MarkerDetector(issue="42")
    assert detector.feed("Here is the script:") is None
    assert detector.feed("```bash") is None
    assert detector.feed(f"echo done; {COMPLETE}") is None
    assert detector.feed(COMPLETE) is None
    assert detector.feed(f"{ERROR} not really") is None
    assert detector.feed("```") is None
    outcome = detector.feed(COMPLETE)
    assert outcome is not None and outcome.status is Status.COMPLETE


def test_indented_fence_in_a_tui_frame_also_opens_and_closes() -> None:
    detector = MarkerDetector(issue="42")
    assert detector.feed("   ```") is None
    assert detector.feed(COMPLETE) is None
    assert detector.feed("   ```") is None
    assert detector.feed(COMPLETE) is not None


# --- keys that are not numbers -------------------------------------------------------------


def test_marker_of_a_name_key_completes_that_issue() -> None:
    outcome = detect("● ###TASK_COMPLETE_PROJ-1###", issue="PROJ-1")
    assert outcome is not None and outcome.status is Status.COMPLETE
    outcome = detect("###TASK_ERROR_PROJ-1### no access", issue="PROJ-1")
    assert outcome is not None and outcome.status is Status.ERROR
    assert outcome.message == "no access"


def test_key_with_regex_characters_is_matched_literally() -> None:
    assert detect("│ ###TASK_COMPLETE_o/r#7###", issue="o/r#7") is not None
    outcome = detect("###TASK_ERROR_o/r#7### flaky", issue="o/r#7")
    assert outcome is not None and outcome.message == "flaky"
    assert detect("###TASK_COMPLETE_o/r#70###", issue="o/r#7") is None
    # Unescaped, `.` and `+` would match other text: `a.b+` would match `aXbbb`.
    assert detect("###TASK_COMPLETE_a.b+(c)###", issue="a.b+(c)") is not None
    assert detect("###TASK_COMPLETE_aXbbbc###", issue="a.b+(c)") is None
    assert detect("###TASK_COMPLETE_aXb(c)###", issue="a.b+(c)") is None


def test_echo_of_the_default_prompt_of_a_name_key_never_finishes_the_run(repo) -> None:
    rt = Runtime.load(repo.path)
    issue = Issue("PROJ-1", "Add a flag", body="Please add --verbose.")
    workspace = Workspace("PROJ-1", repo.path / ".worktrees" / "x", "issue-PROJ-1--add-a-flag")
    prompt = rt.pm.hook.pirun_render_prompt(
        config=rt.config, issue=issue, workspace=workspace, workflow=None
    )
    assert "###TASK_COMPLETE_PROJ-1###" in prompt and "###TASK_ERROR_PROJ-1###" in prompt
    (detector,) = pirun_make_detectors(config=rt.config, issue="PROJ-1", prompt=prompt)
    echoed = [frame + line for line in prompt.splitlines() for frame in ("", "│ ", "> ")]
    assert first_outcome(detector, echoed) is None
    assert detector.feed("###TASK_COMPLETE_PROJ-10###") is None
    assert detector.feed("###TASK_COMPLETE_PROJ-1###") is not None


# --- the prompt ----------------------------------------------------------------------------


def test_line_identical_to_a_prompt_line_is_ignored(config: Config) -> None:
    prompt = (
        "Fix the bug.\n"
        f"{ERROR} <reason>  (print this if you cannot finish)\n"
        f"  {COMPLETE} once everything is committed\n"
    )
    (detector,) = pirun_make_detectors(config=config, issue="42", prompt=prompt)
    # The agent echoes its prompt: neither marker line counts, indented or not.
    assert detector.feed(f"{ERROR} <reason>  (print this if you cannot finish)") is None
    assert detector.feed(f"{COMPLETE} once everything is committed") is None
    assert detector.feed(f"    {COMPLETE} once everything is committed  ") is None
    # A line the prompt does not contain still counts.
    outcome = detector.feed(f"{ERROR} migrations fail")
    assert outcome is not None and outcome.message == "migrations fail"


def test_detectors_come_from_the_plugin_hook(repo) -> None:
    rt = Runtime.load(repo.path)
    results = rt.pm.hook.pirun_make_detectors(config=rt.config, issue="7", prompt="")
    detectors = [d for result in results for d in result if isinstance(d, MarkerDetector)]
    assert len(detectors) == 1
    assert detectors[0].issue == "7"
    assert detectors[0].feed("###TASK_COMPLETE_7###") is not None


def test_echo_of_the_bundled_default_prompt_never_finishes_the_run(repo) -> None:
    rt = Runtime.load(repo.path)
    issue = Issue("42", "Add a flag", body="Please add --verbose.")
    workspace = Workspace("42", repo.path / ".worktrees" / "issue-42", "issue-42")
    prompt = rt.pm.hook.pirun_render_prompt(
        config=rt.config, issue=issue, workspace=workspace, workflow=None
    )
    assert COMPLETE in prompt and ERROR in prompt  # the prompt does mention both markers
    (detector,) = pirun_make_detectors(config=rt.config, issue="42", prompt=prompt)
    echoed = [frame + line for line in prompt.splitlines() for frame in ("", "│ ", "> ")]
    assert first_outcome(detector, echoed) is None
    assert detector.feed(COMPLETE) is not None


# --- together with the terminal cleaning ---------------------------------------------------


def test_marker_broken_by_ansi_codes_is_counted_after_line_assembly() -> None:
    raw = b"\x1b[2K\r\x1b[32m\xe2\x97\x8f\x1b[0m ###TASK_\x1b[1mCOMPLETE_42###\x1b[0m\r\n"
    assert detect(raw.decode("utf-8", "replace")) is None  # raw terminal text hides it
    assembler = LineAssembler()
    lines = [*assembler.feed(raw[:17]), *assembler.feed(raw[17:]), *assembler.flush()]
    outcome = first_outcome(MarkerDetector(issue="42"), lines)
    assert outcome is not None and outcome.status is Status.COMPLETE


def test_error_marker_with_coloured_reason_keeps_clean_message_after_line_assembly() -> None:
    raw = b"\x1b[31m###TASK_ERROR_42###\x1b[0m \x1b[1mdisk full\x1b[0m\n"
    lines = list(LineAssembler().feed(raw))
    outcome = first_outcome(MarkerDetector(issue="42"), lines)
    assert outcome is not None and outcome.message == "disk full"
