"""Named parity checks of the CosyVoice2 LM (``Qwen2LM``) against the recorded reference vectors.

The tests in ``tests/cosyvoice2/test_llm.py`` assert these checks. ``LLM_CHECKS`` are ``checks.Check``
objects, so they can join the flow/HiFT table (``parity.ALL_CHECKS``, printed by ``bench/cosyvoice2_parity.py``).
"""

from __future__ import annotations

import functools

import torch

from parrot.engines.cosyvoice2.llm import Qwen2LM
from parrot.engines.cosyvoice2.sampling import greedy

from . import refdata
from .checks import Check

LOGIT_ATOL = 1e-4
STEPS = 30  # the reference cut each greedy run after 30 tokens
# prompt layout -> (prompt text?, prompt speech?) as in zero_shot, sft/cross_lingual, instruct2
LAYOUTS = {"zero_shot": (True, True), "no_prompt": (False, False), "text_prompt_only": (True, False)}


@functools.cache
def tiny_lm() -> Qwen2LM:
    """The tiny reference LM with its float32 weights, loaded strictly."""
    model = Qwen2LM.from_config(refdata.tiny_config()["llm"])
    model.load_state_dict(refdata.tiny_state("llm"), strict=True)
    return model.eval()


def inputs() -> tuple[list[int], list[int], list[int]]:
    """``(text, prompt_text, prompt_speech)`` token ids of the reference runs."""
    v = refdata.vectors()
    return tuple(v[f"llm.in.{name}"][0].tolist() for name in ("text", "prompt_text", "prompt_speech_token"))


@torch.inference_mode()
def teacher_forced() -> dict[str, torch.Tensor]:
    """``lm_input``, ``hidden`` and ``logits`` of one full forward over the zero-shot layout."""
    model = tiny_lm()
    text, prompt_text, prompt_speech = inputs()
    lm_input = model.build_input(text, prompt_text, prompt_speech)
    hidden = model.hidden(lm_input)
    return {"lm_input": lm_input, "hidden": hidden, "logits": model.llm_decoder(hidden)}


@functools.cache
def greedy_run(layout: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy tokens ``[30]`` and step log-probabilities ``[30, 6564]`` through the KV-cache decode loop."""
    model = tiny_lm()
    text, prompt_text, prompt_speech = inputs()
    use_text, use_speech = LAYOUTS[layout]
    lm_input = model.build_input(text, prompt_text if use_text else [], prompt_speech if use_speech else [])
    min_len, max_len = model.length_limits(len(text))
    steps = []
    for step in model.decode(lm_input, greedy, min_len, max_len):
        steps.append(step)
        if len(steps) == STEPS:
            break
    return torch.tensor([s.token for s in steps]), torch.stack([s.logp for s in steps])


def _tf(name: str) -> Check:
    return Check(f"llm.tf.{name}", LOGIT_ATOL, lambda: (teacher_forced()[name], refdata.vectors()[f"llm.tf.{name}"]))


def _greedy(layout: str, part: int, field: str) -> Check:
    atol = 0.0 if field == "tokens" else LOGIT_ATOL
    key = f"llm.greedy_{layout}.{field}"
    return Check(key, atol, lambda: (greedy_run(layout)[part], refdata.vectors()[key]))


LLM_CHECKS = [
    _tf("lm_input"),
    _tf("hidden"),
    _tf("logits"),
    *[_greedy(layout, part, field) for layout in LAYOUTS for part, field in enumerate(("tokens", "step_logp"))],
]

