"""CosyVoice2's text-to-speech-token language model (``Qwen2LM``): a Qwen2 body that reads text and writes
speech tokens (25 per second, 6561 of them).

Input layout (one sequence of embeddings): ``sos``, the text tokens (prompt text then the text to speak)
through the Qwen embedding, ``task_id``, then the prompt's speech tokens through ``speech_embedding``.
Each decoding step feeds back the embedding of the token just chosen. The outputs come from
``llm_decoder`` over 6564 entries: the 6561 speech tokens, ``eos`` (6561), an unused stop token (6562)
and the ``fill`` token (6563) that bistream decoding uses to ask for more text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .qwen2 import KVCache, Qwen2Config, Qwen2ForCausalLM
from .sampling import Sampler

SOS, TASK_ID = 0, 1  # rows of ``llm_embedding``
MIN_TOKEN_TEXT_RATIO = 2.0  # at least this many speech tokens per text token before eos is allowed
MAX_TOKEN_TEXT_RATIO = 20.0  # and at most this many

TokenIds = Sequence[int] | torch.Tensor


@dataclass(frozen=True)
class Step:
    """One decoding step: the chosen token and the scores it was chosen from (``[V]`` log-probabilities
    after masking, on the model's device)."""

    token: int
    logp: torch.Tensor


class Qwen2Encoder(nn.Module):
    """Holder that gives the Qwen2 body its checkpoint prefix (``llm.model.model...``)."""

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__()
        self.model = Qwen2ForCausalLM(config)

    def forward(self, inputs_embeds: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        return self.model(inputs_embeds, cache)


class Qwen2LM(nn.Module):
    """The CosyVoice2 LM. State-free between calls: every decode owns its ``KVCache``."""

    def __init__(
        self,
        llm_input_size: int,
        llm_output_size: int,
        speech_token_size: int,
        body: Qwen2Config,
        mix_ratio: tuple[int, int] = (5, 15),
    ) -> None:
        super().__init__()
        self.llm_input_size = llm_input_size
        self.speech_token_size = speech_token_size
        self.eos_token = speech_token_size
        self.fill_token = speech_token_size + 2
        self.stop_token_ids = frozenset(speech_token_size + i for i in range(3))
        self.mix_ratio = mix_ratio
        self.llm_embedding = nn.Embedding(2, llm_input_size)
        self.llm = Qwen2Encoder(body)
        self.llm_decoder = nn.Linear(llm_output_size, speech_token_size + 3)
        self.speech_embedding = nn.Embedding(speech_token_size + 3, llm_input_size)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Qwen2LM:
        """Build from the ``llm`` section of ``tiny_config.json`` (same layout for the real model)."""
        kwargs = cfg["kwargs"]
        return cls(
            llm_input_size=kwargs["llm_input_size"],
            llm_output_size=kwargs["llm_output_size"],
            speech_token_size=kwargs["speech_token_size"],
            body=Qwen2Config.from_dict(cfg["llm_body"]["qwen2_config"]),
            mix_ratio=tuple(kwargs.get("mix_ratio", (5, 15))),  # type: ignore[arg-type]
        )

    def tie_weights(self) -> None:
        """Re-share the Qwen ``lm_head`` with the embedding (``load_state_dict(assign=True)`` unties them)."""
        body = self.llm.model
        if body.model.config.tie_word_embeddings:
            body.lm_head.weight = body.model.embed_tokens.weight

    @property
    def device(self) -> torch.device:
        return self.llm_decoder.weight.device

    def _ids(self, ids: TokenIds) -> torch.Tensor:
        return torch.as_tensor(ids, dtype=torch.long, device=self.device).reshape(1, -1)

    def embed_text(self, ids: TokenIds) -> torch.Tensor:
        """Qwen embeddings ``[1, N, D]`` of text token ids."""
        return self.llm.model.model.embed_tokens(self._ids(ids))

    def embed_speech(self, ids: TokenIds) -> torch.Tensor:
        """Speech-token embeddings ``[1, N, D]``."""
        return self.speech_embedding(self._ids(ids))

    def special(self, row: int) -> torch.Tensor:
        """The ``sos`` (0) or ``task_id`` (1) embedding as ``[1, 1, D]``."""
        return self.llm_embedding.weight[row].reshape(1, 1, -1)

    def build_input(self, text: TokenIds, prompt_text: TokenIds = (), prompt_speech: TokenIds = ()) -> torch.Tensor:
        """``[sos, E_text(prompt_text ++ text), task_id, E_speech(prompt_speech)]`` as ``[1, T, D]``.

        The four modes differ only in what they pass: sft and cross_lingual neither prompt, zero_shot
        both, instruct2 the instruction (ending in ``<|endofprompt|>``) as ``prompt_text``.
        """
        all_text = torch.cat([self._ids(prompt_text), self._ids(text)], dim=1)
        return torch.cat(
            [self.special(SOS), self.embed_text(all_text), self.special(TASK_ID), self.embed_speech(prompt_speech)],
            dim=1,
        )

    def hidden(self, lm_input: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The Qwen body's last hidden state ``[1, T, D]`` (extends ``cache`` if given)."""
        return self.llm(lm_input, cache)

    def logits(self, lm_input: torch.Tensor) -> torch.Tensor:
        """Teacher-forced ``llm_decoder`` outputs ``[1, T, 6564]`` over a whole input (no cache)."""
        return self.llm_decoder(self.hidden(lm_input))

    def _step_scores(self, lm_input: torch.Tensor, cache: KVCache) -> torch.Tensor:
        hidden = self.hidden(lm_input, cache)
        return self.llm_decoder(hidden[:, -1]).log_softmax(dim=-1).squeeze(0)

    @torch.inference_mode()
    def decode(self, lm_input: torch.Tensor, sampler: Sampler, min_len: int, max_len: int) -> Iterator[Step]:
        """Generate speech tokens after ``lm_input`` until a stop token or ``max_len`` tokens.

        ``eos`` is masked for the first ``min_len`` steps. The stop token itself is not yielded.
        """
        cache = KVCache()
        decoded: list[int] = []
        for step in range(max_len):
            scores = self._step_scores(lm_input, cache)
            if step < min_len:
                scores[self.eos_token] = -float("inf")
            token = sampler(scores, decoded)
            if token in self.stop_token_ids:
                return
            yield Step(token, scores)
            decoded.append(token)
            lm_input = self.speech_embedding.weight[token].reshape(1, 1, -1)

    def length_limits(self, text_len: int) -> tuple[int, int]:
        """``(min_len, max_len)`` speech tokens for ``text_len`` text tokens (prompt text excluded)."""
        return int(text_len * MIN_TOKEN_TEXT_RATIO), int(text_len * MAX_TOKEN_TEXT_RATIO)

    def inference(
        self, text: TokenIds, sampler: Sampler, prompt_text: TokenIds = (), prompt_speech: TokenIds = ()
    ) -> Iterator[int]:
        """Speech tokens for ``text`` (see ``build_input`` for the prompts), yielded as they are decoded."""
        with torch.inference_mode():
            lm_input = self.build_input(text, prompt_text, prompt_speech)
        min_len, max_len = self.length_limits(self._ids(text).size(1))
        for step in self.decode(lm_input, sampler, min_len, max_len):
            yield step.token

    @torch.inference_mode()
    def inference_bistream(
        self,
        text_pieces: Iterable[TokenIds],
        sampler: Sampler,
        prompt_text: TokenIds = (),
        prompt_speech: TokenIds = (),
    ) -> Iterator[int]:
        """Speech tokens for text that arrives in pieces (e.g. from a chat model), decoded while it arrives.

        Text and speech are interleaved as in training: groups of ``mix_ratio[0]`` (5) text tokens each
        followed by ``mix_ratio[1]`` (15) speech tokens, first the prompt's, then generated ones. After
        each generated group the model emits ``fill`` (6563) to ask for the next 5 text tokens. When the
        text ends, the rest of it and ``task_id`` are fed and decoding runs to ``eos``. The model's
        scores at group ends are overridden by a forced ``fill``, as in the reference.

        Differences from the reference loop: an input already fed to the model is never fed again (after
        a ``fill`` the next input is the following text group, or the final text and ``task_id``); a piece
        holding several text groups is decoded through all of them, not one group per piece; while text
        arrives the unused stop token 6562 is masked with ``eos`` (the reference raises on it); prompt
        speech tokens still unfed when the text ends follow ``task_id`` (as in training; the reference
        drops them).
        """
        text_group, speech_group = self.mix_ratio
        cache = KVCache()
        decoded: list[int] = []
        pending = [self.special(SOS)]  # embeddings not fed to the model yet
        text_cache = self.embed_text(prompt_text)
        prompt_left = self.embed_speech(prompt_speech)
        n_prompt = prompt_left.size(1)
        next_fill = (n_prompt // speech_group + 1) * speech_group - n_prompt
        n_text = 0

        def feed() -> torch.Tensor:
            nonlocal pending
            scores = self._step_scores(torch.cat(pending, dim=1), cache)
            pending = []
            return scores

        def text_phase(scores: torch.Tensor) -> torch.Tensor:  # while text arrives: speech or fill only
            scores[self.eos_token] = scores[self.eos_token + 1] = -float("inf")
            return scores

        for piece in text_pieces:
            piece_embeddings = self.embed_text(piece)
            n_text += piece_embeddings.size(1)
            text_cache = torch.cat([text_cache, piece_embeddings], dim=1)
            while prompt_left.size(1) and text_cache.size(1) >= text_group:
                pending += [text_cache[:, :text_group], prompt_left[:, :speech_group]]
                text_cache, prompt_left = text_cache[:, text_group:], prompt_left[:, speech_group:]
            if prompt_left.size(1):
                continue  # prompt speech left: wait for more text before decoding
            while True:  # one round per text group available: decode speech until the model asks for more
                if decoded or len(pending) == 1:  # after a fill (or with nothing but sos): the next text group
                    if text_cache.size(1) < text_group:
                        break
                    pending.append(text_cache[:, :text_group])
                    text_cache = text_cache[:, text_group:]
                while True:
                    scores = feed()
                    forced = len(decoded) == next_fill  # the fill position is fixed by the group size
                    token = self.fill_token if forced else sampler(text_phase(scores), decoded)
                    decoded.append(token)
                    if token == self.fill_token:
                        next_fill = len(decoded) + speech_group
                        break
                    yield token
                    pending = [self.speech_embedding.weight[token].reshape(1, 1, -1)]

        pending += [text_cache, self.special(TASK_ID), prompt_left]  # prompt speech left over follows task_id
        for _ in range(int(max(n_text, 1) * MAX_TOKEN_TEXT_RATIO)):
            token = sampler(feed(), decoded)
            decoded.append(token)
            if token in self.stop_token_ids:
                return
            yield token
            pending = [self.speech_embedding.weight[token].reshape(1, 1, -1)]
