"""Tests for pirun.terminal: cleaning a pty byte stream into lines for outcome detection."""

from __future__ import annotations

import pytest

from pirun.terminal import MAX_LINE_CHARS, LineAssembler, strip_escapes

MARKER = "###TASK_COMPLETE_42###"


def lines_of(*chunks: bytes) -> list[str]:
    """Every line an assembler yields for `chunks` fed one by one, then flushed."""
    assembler = LineAssembler()
    out: list[str] = []
    for chunk in chunks:
        out.extend(assembler.feed(chunk))
    out.extend(assembler.flush())
    return out


# --- escape sequences ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b[1;38;5;208mbold orange\x1b[m", "bold orange"),
        ("\x1b[38;2;255;0;0mtruecolor\x1b[39m", "truecolor"),
        ("\x9b31mC1 CSI\x9b0m", "C1 CSI"),
    ],
)
def test_strip_escapes_removes_csi_colours(raw: str, clean: str) -> None:
    assert strip_escapes(raw) == clean


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b]0;window title\x07text", "text"),
        ("\x1b]2;title with ST\x1b\\text", "text"),
        ("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\", "link"),
    ],
    ids=["bel-terminated", "st-terminated", "hyperlink"],
)
def test_strip_escapes_removes_osc_titles_and_links(raw: str, clean: str) -> None:
    assert strip_escapes(raw) == clean


@pytest.mark.parametrize(
    "move",
    ["\x1b[2K", "\x1b[1A", "\x1b[10;20H", "\x1b[?25l", "\x1b[?1049h", "\x1b7", "\x1b8", "\x1bM"],
)
def test_strip_escapes_removes_cursor_movement_and_modes(move: str) -> None:
    assert strip_escapes(f"{move}abc{move}") == "abc"


def test_strip_escapes_keeps_tabs_and_plain_unicode() -> None:
    assert strip_escapes("a\tb │ ● ünïcödé ✓") == "a\tb │ ● ünïcödé ✓"


def test_assembler_cleans_escapes_in_each_line() -> None:
    assert lines_of(b"\x1b[32m\x1b]0;t\x07hello\x1b[0m\n\x1b[2Kworld\n") == ["hello", "world"]


# --- splits across reads -------------------------------------------------------------------


def test_marker_split_mid_marker_across_two_feeds_is_assembled() -> None:
    data = f"  {MARKER}\n".encode()
    for cut in range(1, len(data)):
        assert lines_of(data[:cut], data[cut:]) == [f"  {MARKER}"], cut


def test_marker_split_mid_utf8_character_is_assembled() -> None:
    text = f"● {MARKER} ✓"
    data = f"{text}\n".encode()
    bullet = data.index("●".encode())
    check = data.index("✓".encode())
    # Cut after the first and the second byte of each 3-byte character.
    for cut in (bullet + 1, bullet + 2, check + 1, check + 2):
        assert lines_of(data[:cut], data[cut:]) == [text], cut


def test_escape_sequence_split_across_feeds_is_still_removed() -> None:
    data = b"###TASK_\x1b[1mCOMPLETE_42###\x1b[0m\n"
    for cut in range(1, len(data)):
        assert lines_of(data[:cut], data[cut:]) == [MARKER], cut


def test_every_byte_fed_separately_gives_the_same_lines() -> None:
    data = "\x1b[1m● ünï\x1b[0m\r\nline two\rline three\n".encode()
    assert lines_of(*(data[i : i + 1] for i in range(len(data)))) == lines_of(data)


# --- line breaks ---------------------------------------------------------------------------


def test_carriage_return_separates_lines() -> None:
    assert lines_of(b"10%\r50%\r100%\rdone\n") == ["10%", "50%", "100%", "done"]


def test_marker_printed_after_carriage_return_is_its_own_line() -> None:
    assert lines_of(f"spinner...\r{MARKER}\n".encode()) == ["spinner...", MARKER]


def test_crlf_is_a_single_line_break() -> None:
    assert lines_of(b"one\r\ntwo\r\n") == ["one", "two"]


def test_crlf_split_between_two_feeds_is_a_single_line_break() -> None:
    assert lines_of(b"one\r", b"\ntwo\r", b"\n") == ["one", "two"]


def test_crlf_split_by_an_empty_feed_is_a_single_line_break() -> None:
    assert lines_of(b"one\r", b"", b"\ntwo\n") == ["one", "two"]


def test_blank_lines_are_kept() -> None:
    assert lines_of(b"a\n\nb\r\n\r\nc\n") == ["a", "", "b", "", "c"]


def test_flush_emits_the_unterminated_last_line() -> None:
    assembler = LineAssembler()
    assert list(assembler.feed(f"x\n{MARKER}".encode())) == ["x"]
    assert list(assembler.flush()) == [MARKER]
    assert list(assembler.flush()) == []


def test_flush_emits_replacement_for_a_truncated_utf8_character() -> None:
    assert lines_of("ab●".encode()[:-1]) == ["ab\ufffd"]


# --- hostile input -------------------------------------------------------------------------


def test_invalid_utf8_is_replaced_not_raised() -> None:
    out = lines_of(b"ok \xff\xfe\xc3\x28 still ok\n", f"{MARKER}\n".encode())
    assert out[0].startswith("ok ") and out[0].endswith(" still ok")
    assert "\ufffd" in out[0]
    assert out[1] == MARKER


def test_binary_junk_does_not_raise_and_marker_after_it_is_found() -> None:
    junk = bytes(range(256)) * 64
    out = lines_of(junk, f"\n{MARKER}\n".encode())
    assert out[-1] == MARKER
    assert all("\x1b" not in line for line in out)


def test_overlong_line_without_newline_is_emitted_in_bounded_pieces() -> None:
    assembler = LineAssembler()
    chunk = b"x" * 4096
    total = 50 * 1024 * 1024
    emitted = 0
    longest = 0
    for _ in range(total // len(chunk)):
        for line in assembler.feed(chunk):
            emitted += len(line)
            longest = max(longest, len(line))
        assert len(assembler._pending) <= MAX_LINE_CHARS
    assert emitted >= total - MAX_LINE_CHARS  # emitted while flooding, not held back
    emitted += sum(len(line) for line in assembler.flush())
    assert emitted == total  # and nothing dropped
    assert longest <= MAX_LINE_CHARS


def test_overlong_line_in_one_huge_feed_is_cut_to_max_line_chars() -> None:
    assembler = LineAssembler()
    out = list(assembler.feed(b"y" * (3 * MAX_LINE_CHARS + 5)))
    assert [len(line) for line in out] == [MAX_LINE_CHARS] * 3
    assert len(assembler._pending) == 5


def test_marker_after_a_flood_without_newlines_is_still_found() -> None:
    assembler = LineAssembler()
    out: list[str] = []
    for _ in range(100):
        out.extend(assembler.feed(b"z" * 10_000))
    out.extend(assembler.feed(f"\n{MARKER}\n".encode()))
    assert out[-1] == MARKER
