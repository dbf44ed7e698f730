"""A model that goes round in circles is stopped, and what it repeats is not spoken."""

from __future__ import annotations

import asyncio

from test_pipeline import RecordingSpeaker, ScriptedModel

from parrot.chat.loops import RepetitionGuard
from parrot.chat.pipeline import ChatSession, collect


def test_guard_flags_repeated_phrases_and_restated_lists() -> None:
    guard = RepetitionGuard()
    assert not guard.repeats("Paris is the capital of France.")
    assert not guard.repeats("It is home to the Eiffel Tower, the Louvre Museum, and Notre-Dame.")
    assert guard.repeats("It is also home to the Eiffel Tower, the Louvre Museum, and Notre-Dame.")
    assert guard.stopped


def test_guard_leaves_short_and_new_phrases_alone() -> None:
    guard = RepetitionGuard()
    phrases = ["First,", "the tower is tall.", "Yes.", "the river is long.", "Yes.", "the food is good.", "Oh, no."]
    for phrase in phrases:
        assert not guard.repeats(phrase), phrase
    assert not guard.stopped


def test_guard_reads_chinese_by_character() -> None:
    guard = RepetitionGuard()
    assert not guard.repeats("长城是世界上最大的军事防御工程。")
    assert not guard.repeats("它有两千多年的历史。")
    assert guard.repeats("长城是世界上最大的军事防御工程之一。")


def test_a_looping_answer_is_cut_and_the_model_stopped() -> None:
    looping = ["Paris is in France. ", "Paris has the Eiffel Tower. "] + ["Paris has the Eiffel Tower. "] * 20
    model = ScriptedModel(looping)
    speaker = RecordingSpeaker()
    events, _, done = asyncio.run(collect(ChatSession(model, speaker).reply("Facts about Paris?")))
    assert speaker.said == ["Paris is in France.", "Paris has the Eiffel Tower."]
    assert model.stopped_after is not None and model.stopped_after < 5  # generation stopped early
    assert done.status == "completed" and done.timings.repetition_stopped == 1
