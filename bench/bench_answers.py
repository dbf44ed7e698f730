"""Are voice chat's answers worth hearing? 20 Mandarin and English questions with the facts a right answer
names, asked through the same ChatSession (system prompt, repetition guard) as the server.

    .venv/bin/python bench/bench_answers.py                          # the default embedded model
    .venv/bin/python bench/bench_answers.py --llm smollm2-135m --langs en
    .venv/bin/python bench/bench_answers.py --llm-url http://localhost:11434/v1 --llm-model llama3.2

Per model: share of answers that name an expected fact, share that repeat themselves (a phrase the guard
dropped), answer length, and the model's time to its first phrase and to the end. Questions are typed (the
speech side is measured by bench_chat.py); answers are not synthesized.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import AsyncIterator

import numpy as np

QUESTIONS: list[tuple[str, str, tuple[str, ...]]] = [  # (language, question, any of these facts)
    ("en", "What is the capital of France?", ("paris",)),
    ("en", "What is the largest planet in our solar system?", ("jupiter",)),
    ("en", "Who wrote Romeo and Juliet?", ("shakespeare",)),
    ("en", "How many continents are there?", ("seven", "7")),
    ("en", "What gas do plants take in from the air?", ("carbon dioxide", "co2")),
    ("en", "What is the boiling point of water in Celsius?", ("100", "hundred")),
    ("en", "Which ocean is the largest?", ("pacific",)),
    ("en", "Who painted the Mona Lisa?", ("leonardo", "da vinci")),
    ("en", "What is the chemical symbol for gold?", ("au",)),
    ("en", "Tell me three interesting facts about Paris.", ("eiffel", "louvre", "seine")),
    ("zh", "中国的首都是哪里？", ("北京",)),
    ("zh", "太阳系中最大的行星是哪一颗？", ("木星",)),
    ("zh", "《红楼梦》的作者是谁？", ("曹雪芹",)),
    ("zh", "一年有多少个月？", ("十二", "12")),
    ("zh", "水在摄氏多少度沸腾？", ("100", "一百")),
    ("zh", "世界上最高的山峰是什么？", ("珠穆朗玛", "珠峰")),
    ("zh", "长江流入哪个海？", ("东海",)),
    ("zh", "熊猫最喜欢吃什么？", ("竹",)),
    ("zh", "中国的国土面积大约是多少平方公里？", ("960", "九百六十")),
    ("zh", "请告诉我关于长城的三个有趣事实。", ("秦", "万里", "明朝", "两千", "2000", "世界遗产")),
]


class SilentSpeaker:
    """Answers are judged as text here: nothing is synthesized."""

    sample_rate = 24_000

    async def speak(self, text: str, voice: str | None, speed: float) -> AsyncIterator[np.ndarray]:
        yield np.zeros(0, np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", default=None, help="embedded model: qwen2.5-0.5b (default) or smollm2-135m")
    parser.add_argument("--llm-url", help="an OpenAI-compatible endpoint instead of the embedded model")
    parser.add_argument("--llm-model", default="default", help="model name for --llm-url")
    parser.add_argument("--langs", default="en,zh", help="which questions (en, zh)")
    args = parser.parse_args()

    from dataclasses import replace

    from parrot.chat.config import ChatSettings, load_model
    from parrot.chat.pipeline import ChatSession, collect
    from parrot.config import Settings

    chat = ChatSettings.from_env()
    chosen = args.llm or chat.embedded_llm
    chat = replace(chat, llm_base_url=args.llm_url, llm_model=args.llm_model, embedded_llm=chosen)
    model = load_model(chat, Settings.from_env())
    langs = set(args.langs.split(","))
    rows = []
    for lang, question, facts in (q for q in QUESTIONS if q[0] in langs):
        session = ChatSession(model, SilentSpeaker(), system_prompt=chat.system_prompt, max_tokens=chat.max_tokens)
        started = time.perf_counter()
        events, _, done = asyncio.run(collect(session.reply(question, lang)))
        seconds = time.perf_counter() - started
        answer = done.reply.casefold()
        right = any(fact in answer for fact in facts)
        looped = bool(done.timings.repetition_stopped)
        rows.append((lang, right, looped, len(done.reply), done.timings.model_first_phrase or 0.0, seconds))
        mark = "ok " if right else "-- "
        print(f"{mark}{'loop ' if looped else ''}[{seconds:4.1f}s] {question} -> {done.reply[:160]!r}", flush=True)
    print(f"\n{chat.llm_description}: {len(rows)} questions")
    for lang in sorted(langs):
        mine = [r for r in rows if r[0] == lang]
        if mine:
            right, looped = sum(r[1] for r in mine), sum(r[2] for r in mine)
            chars, first, whole = (statistics.median(r[i] for r in mine) for i in (3, 4, 5))
            print(f"  {lang}: right {right}/{len(mine)}, repetitions stopped {looped}, median answer {chars:.0f} "
                  f"chars, first phrase {first:.2f} s, whole answer {whole:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
