"""Repetition-aware sampling (nucleus + rejection of recent repeats) and greedy."""

from __future__ import annotations

from collections import Counter

import torch

from parrot.engines.cosyvoice2.sampling import RasSampler, greedy


def scores_from(probs: list[float]) -> torch.Tensor:
    return torch.tensor(probs).log()


def draws(sampler: RasSampler, scores: torch.Tensor, n: int = 2000, decoded: list[int] | None = None) -> Counter:
    return Counter(sampler(scores, decoded or []) for _ in range(n))


def test_greedy_takes_the_first_maximum() -> None:
    assert greedy(torch.tensor([0.1, 0.7, 0.7, 0.2]), []) == 1


def test_nucleus_keeps_tokens_until_top_p_mass() -> None:
    # mass before each token: 0, .5, .75, .9 -> the first three are kept (top_p 0.8)
    counts = draws(RasSampler.seeded(0), scores_from([0.5, 0.25, 0.15, 0.1]))
    assert set(counts) == {0, 1, 2}
    assert abs(counts[0] / 2000 - 0.5 / 0.9) < 0.05 and abs(counts[2] / 2000 - 0.15 / 0.9) < 0.05


def test_nucleus_respects_top_k_and_sorts_by_probability() -> None:
    counts = draws(RasSampler.seeded(0, top_k=2), scores_from([0.1, 0.15, 0.25, 0.5]))
    assert set(counts) == {3, 2}


def test_a_recent_repeat_is_redrawn_from_the_rest() -> None:
    scores = scores_from([0.97, 0.01, 0.01, 0.01])
    sampler = RasSampler.seeded(1)
    assert set(draws(sampler, scores, 200)) == {0}
    redrawn = draws(sampler, scores, 600, decoded=[5, 0, 7])
    assert set(redrawn) == {1, 2, 3} and min(redrawn.values()) > 120
    # only the last win_size (10) tokens count
    assert set(draws(sampler, scores, 200, decoded=[0] + [5] * 10)) == {0}


def test_scores_are_not_modified() -> None:
    scores = scores_from([0.97, 0.01, 0.01, 0.01])
    before = scores.clone()
    RasSampler.seeded(0)(scores, [0])
    assert torch.equal(scores, before)


def test_seeded_samplers_repeat_and_differ() -> None:
    scores = torch.randn(6564, generator=torch.Generator().manual_seed(3)) * 3

    def run(seed: int) -> list[int]:
        sampler, out = RasSampler.seeded(seed), []
        for _ in range(40):
            out.append(sampler(scores, out))
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)
