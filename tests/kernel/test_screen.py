"""The rendered screen: what a TUI shows, not what it wrote last."""

from __future__ import annotations

import os
from pathlib import Path

from pirun.progress import last_log_line
from pirun.screen import (
    TAIL_LIMIT,
    LiveScreen,
    log_screen,
    render,
    screen_path,
    write_size,
)

ESC = b"\x1b"


def at(row: int, column: int, text: bytes) -> bytes:
    """Text drawn at a 1-based position, as TUIs draw."""
    return ESC + b"[%d;%dH" % (row, column) + text


# A TUI like pi's at its prompt: the prompt line, then a footer whose right end (the
# model name) is drawn last, so the byte stream's last "line" is the model name.
PROMPT_SCREEN = (
    ESC + b"[2J"
    + at(1, 1, b"Welcome")
    + at(20, 1, b"No API key found for the selected model")
    + at(22, 1, b"> ")
    + at(24, 1, b"0.0%/0 (auto)")
    + at(24, 60, b"some-model")
    + at(22, 3, b"")
)


def test_the_bottom_line_is_the_screen_s_not_the_stream_s() -> None:
    screen = render(PROMPT_SCREEN, (24, 80))
    bottom = screen.bottom_line()
    assert bottom.startswith("0.0%/0 (auto)") and bottom.endswith("some-model"), bottom
    assert screen.bottom_lines(3)[0] == "No API key found for the selected model"
    assert screen.bottom_lines(3)[1].strip() == ">"


def test_only_output_after_the_last_full_clear_shows() -> None:
    data = b"old line that was cleared\r\n" + ESC + b"[2J" + ESC + b"[H" + b"new screen\r\n"
    assert render(data, (10, 40)).text() == "new screen"


def test_alternate_screen_output_replaces_what_was_before() -> None:
    data = b"shell output\r\n" + ESC + b"[?1049h" + ESC + b"[H" + b"full-screen app"
    assert render(data, (10, 40)).bottom_line() == "full-screen app"


def test_colours_and_titles_are_not_text() -> None:
    data = ESC + b"]0;a title\x07" + ESC + b"[1;31mred" + ESC + b"[0m plain\r\n"
    assert render(data, (5, 20)).bottom_line() == "red plain"


def test_lines_wrap_at_the_screen_width() -> None:
    assert render(b"x" * 25, (5, 10)).lines[:3] == ["x" * 10, "x" * 10, "x" * 5]


def test_a_device_query_is_not_answered_nor_shown() -> None:
    data = b"before" + ESC + b"[6n" + ESC + b"[c" + b" after"
    assert render(data, (5, 40)).bottom_line() == "before after"


def test_a_live_screen_shows_what_follows_the_last_clear() -> None:
    live = LiveScreen((10, 40))
    live.feed(b"first screen\r\n")
    assert live.render().bottom_line() == "first screen"
    live.feed(b"more" + ESC + b"[2J" + ESC + b"[H" + b"second")
    live.feed(b" screen")
    assert live.render().text() == "second screen"


def test_text_drawn_once_stays_while_something_else_animates() -> None:
    # codex's sign-in screen at 200x50: the text once, then a logo redrawn for ever.
    live = LiveScreen((50, 200))
    live.feed(ESC + b"[2J" + at(40, 3, b"Sign in with ChatGPT"))
    for frame in range(2000):
        live.feed(at(5, 10, b"logo frame %04d" % frame))
        if frame % 500 == 0:
            live.render()
    screen = live.render()
    assert "Sign in with ChatGPT" in screen.text(), "the text drawn first was lost"
    assert "logo frame 1999" in screen.text()


def test_a_flood_between_two_looks_keeps_the_last_bytes_only() -> None:
    live = LiveScreen((5, 20))
    live.feed(b"old text\r\n")
    live.feed(b"y" * (3 * TAIL_LIMIT))
    assert "old text" not in live.render().text()


def test_a_log_renders_at_the_session_s_size(tmp_path: Path) -> None:
    log = tmp_path / "issue-1.log"
    log.write_bytes(b"a" * 30)
    assert log_screen(log).bottom_line() == "a" * 30, "the default size is wide"
    write_size(log, (5, 10))
    assert log_screen(log).lines[:3] == ["a" * 10, "a" * 10, "a" * 10]


def test_no_log_is_an_empty_screen(tmp_path: Path) -> None:
    assert log_screen(tmp_path / "missing.log").bottom_line() == ""


def test_the_last_output_shown_is_the_paused_screen_s_until_the_agent_writes_again(
    tmp_path: Path,
) -> None:
    log = tmp_path / "issue-1.log"
    log.write_bytes(PROMPT_SCREEN)
    screen_path(log).write_text(render(PROMPT_SCREEN, (24, 80)).text() + "\n")
    os.utime(log, ns=(1_000_000_000, 1_000_000_000))
    assert last_log_line(log).startswith("0.0%/0 (auto)"), "the screen was not used"
    with open(log, "ab") as handle:
        handle.write(b"\r\nnew output\r\n")
    assert last_log_line(log) == "new output", "a screen older than the log was used"
