"""The Qwen2 body against a naive re-statement of its maths, and its KV cache against full forwards."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from parrot.engines.cosyvoice2.qwen2 import KVCache, Qwen2Config, Qwen2ForCausalLM, RMSNorm, RotaryEmbedding

CONFIG = Qwen2Config(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, vocab_size=50, rope_theta=10_000.0, rms_norm_eps=1e-6)


def random_model(seed: int = 0) -> Qwen2ForCausalLM:
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(CONFIG)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model.eval()


def naive_forward(model: Qwen2ForCausalLM, x: torch.Tensor) -> torch.Tensor:
    """Loop-per-head restatement of a Qwen2 forward (causal, no cache) for ``x`` ``[T, hidden]``."""
    body, c = model.model, CONFIG
    T, d = x.size(0), c.head_dim

    def rms(v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return w * v / torch.sqrt((v * v).mean(-1, keepdim=True) + c.rms_norm_eps)

    def rope(v: torch.Tensor, pos: int) -> torch.Tensor:  # rotate pairs (i, i + d/2) by pos * theta^(-2i/d)
        out = v.clone()
        for i in range(d // 2):
            angle = pos * c.rope_theta ** (-2 * i / d)
            a, b, cos, sin = v[i], v[i + d // 2], math.cos(angle), math.sin(angle)
            out[i], out[i + d // 2] = a * cos - b * sin, b * cos + a * sin
        return out

    for layer in body.layers:
        att = layer.self_attn
        h = rms(x, layer.input_layernorm.weight)
        q, k, v = att.q_proj(h), att.k_proj(h), att.v_proj(h)
        heads = []
        for head in range(c.num_attention_heads):
            kv = head // (c.num_attention_heads // c.num_key_value_heads)
            qs = torch.stack([rope(q[t, head * d : (head + 1) * d], t) for t in range(T)])
            ks = torch.stack([rope(k[t, kv * d : (kv + 1) * d], t) for t in range(T)])
            vs = v[:, kv * d : (kv + 1) * d]
            scores = qs @ ks.T / math.sqrt(d) + torch.full((T, T), -math.inf).triu(1)
            heads.append(scores.softmax(-1) @ vs)
        x = x + att.o_proj(torch.cat(heads, dim=-1))
        h = rms(x, layer.post_attention_layernorm.weight)
        x = x + layer.mlp.down_proj(F.silu(layer.mlp.gate_proj(h)) * layer.mlp.up_proj(h))
    return rms(x, body.norm.weight)


@torch.no_grad()
def test_forward_matches_naive_restatement() -> None:
    model = random_model()
    x = torch.randn(7, CONFIG.hidden_size)
    assert torch.allclose(model(x[None])[0], naive_forward(model, x), atol=1e-5)


@torch.no_grad()
def test_kv_cache_steps_match_one_full_forward() -> None:
    model = random_model(1)
    x = torch.randn(1, 11, CONFIG.hidden_size)
    full = model(x)
    cache = KVCache()
    parts = [model(x[:, :4], cache), model(x[:, 4:5], cache), model(x[:, 5:8], cache), model(x[:, 8:9], cache),
             model(x[:, 9:], cache)]
    assert cache.length == 11
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)


@torch.no_grad()
def test_caches_are_independent() -> None:
    model = random_model(2)
    a, b = torch.randn(1, 5, CONFIG.hidden_size), torch.randn(1, 3, CONFIG.hidden_size)
    first, second = KVCache(), KVCache()
    model(a, first)
    model(b, second)
    assert (first.length, second.length) == (5, 3)
    assert torch.allclose(model(a[:, -1:], KVCache()), model(a[:, -1:]), atol=1e-6)


def test_rms_norm_by_hand() -> None:
    norm = RMSNorm(2, eps=0.0)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0]))
    out = norm(torch.tensor([[3.0, 4.0]]))  # rms = sqrt(12.5)
    assert torch.allclose(out, torch.tensor([[3.0, 8.0]]) / math.sqrt(12.5))


def test_rotary_scores_depend_only_on_distance() -> None:
    rotary = RotaryEmbedding(8, 10_000.0)
    q, k = torch.randn(8), torch.randn(8)

    def score(pos_q: int, pos_k: int) -> float:
        from parrot.engines.cosyvoice2.qwen2 import apply_rotary

        cos, sin = rotary(torch.tensor([pos_q, pos_k]), torch.float32)
        rq = apply_rotary(q[None, None, None], cos[:1], sin[:1])
        rk = apply_rotary(k[None, None, None], cos[1:], sin[1:])
        return float((rq * rk).sum())

    assert math.isclose(score(3, 1), score(12, 10), rel_tol=1e-4)
    assert not math.isclose(score(3, 1), score(3, 2), rel_tol=1e-4)


def test_lm_head_is_tied_only_when_configured() -> None:
    tied = Qwen2ForCausalLM(CONFIG)
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    untied = Qwen2ForCausalLM(Qwen2Config(**{**CONFIG.__dict__, "tie_word_embeddings": False}))
    assert untied.lm_head.weight is not untied.model.embed_tokens.weight
