from parrot.text.chunk import pause_after, plan
from parrot.text.segment import Segment


def fake_phonemize(seg: Segment) -> str:
    """One phoneme per letter or CJK character, which makes limits easy to reason about."""
    return "".join(ch for ch in seg.text if ch.isalnum() or ch == " ")


def test_sentences_become_chunks_with_pauses():
    chunks = list(plan("Hello there. How are you? 我很好。", fake_phonemize))
    assert [c.text for c in chunks] == ["Hello there.", "How are you?", "我很好。"]
    assert [c.pause for c in chunks] == [0.3, 0.3, 0.3]


def test_spans_cover_the_text_in_order():
    text = "First one. Second, a longer clause here; third part! 最后一句话。"
    chunks = list(plan(text, fake_phonemize, max_phonemes=20))
    assert all(text[c.start : c.end].strip() == c.text for c in chunks)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert "".join(text[c.start : c.end] for c in chunks).split() == text.split()


def test_every_chunk_fits_the_limit_and_no_word_is_cut():
    words = [f"word{i}" for i in range(400)]
    text = " ".join(words) + "."
    chunks = list(plan(text, fake_phonemize, max_phonemes=60))
    assert len(chunks) > 5
    assert all(len(c.phonemes) <= 60 for c in chunks)
    assert " ".join(c.text for c in chunks).replace(".", "").split() == words


def test_long_chinese_sentence_splits_at_clauses():
    clause = "我们今天去公园散步"
    text = "，".join([clause] * 12) + "。"
    chunks = list(plan(text, fake_phonemize, max_phonemes=40))
    assert all(len(c.phonemes) <= 40 for c in chunks)
    assert all(c.text.endswith(("，", "。")) for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_first_chunk_can_be_short():
    text = "Well, I think we should leave now, before it rains. Then we talk."
    chunks = list(plan(text, fake_phonemize, max_phonemes=200, first_max_phonemes=8))
    assert chunks[0].text == "Well,"
    assert chunks[0].pause == 0.12
    assert len(chunks[1].phonemes) > 8  # later chunks use the normal limit


def test_unsplittable_token_is_truncated_not_lost():
    chunks = list(plan("a" * 100, fake_phonemize, max_phonemes=30))
    assert len(chunks) == 1 and len(chunks[0].phonemes) == 30


def test_plan_is_lazy():
    calls = []

    def counting(seg: Segment) -> str:
        calls.append(seg.text)
        return fake_phonemize(seg)

    gen = plan("One. " * 10_000, counting)
    next(gen)
    assert len(calls) < 5


def test_pause_after():
    assert pause_after("Hi.") == 0.3
    assert pause_after("你好，") == 0.12
    assert pause_after("line\n") == 0.45
    assert pause_after('He said "go."') == 0.3
    assert pause_after("and then") == 0.0


def test_long_chinese_clause_splits_between_words():
    text = "我们今天一起去公园散步然后回家吃饭" * 10
    chunks = list(plan(text, fake_phonemize, max_phonemes=25))
    assert all(len(c.phonemes) <= 25 for c in chunks)
    assert "".join(c.text for c in chunks) == text
    joins = {(a.text[-1], b.text[0]) for a, b in zip(chunks, chunks[1:], strict=False)}
    assert ("公", "园") not in joins and ("散", "步") not in joins
