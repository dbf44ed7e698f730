"""SubRip and WebVTT writing from timed cues."""

from __future__ import annotations

from parrot.subtitles import Cue, srt, timestamp, vtt

CUES = [Cue(0.0, 1.5, " Hello there."), Cue(2.0, 2.0, "   "), Cue(3723.4567, 3725.0, "two\n\n lines ")]


def test_timestamp() -> None:
    assert timestamp(0) == "00:00:00,000"
    assert timestamp(3723.4567) == "01:02:03,457"
    assert timestamp(59.9996, ".") == "00:01:00.000"  # rounding carries into the minutes
    assert timestamp(-0.2) == "00:00:00,000"
    assert timestamp(100 * 3600) == "100:00:00,000"


def test_srt_numbers_the_cues_that_have_text() -> None:
    assert srt(CUES) == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n01:02:03,457 --> 01:02:05,000\ntwo\nlines\n"
    )
    assert srt([]) == ""


def test_vtt() -> None:
    assert vtt(CUES) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n01:02:03.457 --> 01:02:05.000\ntwo\nlines\n"
    )
    assert vtt([Cue(1.0, 0.5, "a --> b")]) == "WEBVTT\n\n00:00:01.000 --> 00:00:01.000\na -> b\n"
    assert vtt([]) == "WEBVTT\n"
