"""Kokoro's ONNX graph, opened up for trained voices (``parrot.training``).

The packaged int8 graph is edited once when the engine loads it (in memory; the pinned file is never
changed):

- **adapter** (float32 ``[ADAPTER_SIZE]``): added to the biases of every AdaIN ``fc`` layer of the decoder
  (``decoder.decoder.*.fc.bias``, in ``adapter_layout`` order). For a fixed style these biases are each
  layer's per-channel gain and shift, so a trained voice carries one vector that re-colours every layer of
  the decoder and vocoder. Stock voices feed zeros: the output is bit-identical to the packaged graph.
  After the biases the same vector holds low-rank updates of the decoder's and vocoder's main convolutions
  (``LoraConv``; ``layout.lora``): each adapted convolution ``W`` gets a parallel branch ``up(down(x))``
  (``down`` a rank-``r`` convolution with ``W``'s kernel, dilation and padding, ``up`` a 1x1), added to its
  output, i.e. ``W + up @ down``. They cost time even when zero, so they are in a second graph
  (``adaptable_graph(lora=True)``) that only voices trained with them use.
- **f0_scale** (float32 ``[1]``): multiplies the predicted pitch curve before the decoder (1 = unchanged).

The graph always also returns the durations (``DURATIONS_OUTPUT``, text frames per token), which time every
word (``text.words``); an extra output changes nothing in the audio.

With ``probes=True`` the graph also returns the tensors training needs: the text features before and after
the duration expansion, the durations, and the predicted F0 and energy curves (see ``PROBES``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np

GRAPH_VERSION = 4  # of the edits below (4: the durations output): a cached graph of another version is rebuilt
ADAPTER_INPUT = "adapter"
F0_SCALE_INPUT = "f0_scale"
_FC_BIAS_PREFIX = "decoder.decoder."
_FC_BIAS_SUFFIX = ".fc.bias"
_F0_TENSOR = "/encoder/Reshape_output_0"
DURATIONS_OUTPUT = "/encoder/Clip_output_0"  # (1, tokens) text frames per token, 40 per second, after speed

# Names of intermediate tensors of the packaged graph (stable: the file is sha256-pinned in parrot.models).
PROBES = {
    "t_en": "/encoder/text_encoder/Transpose_2_output_0",  # (1, 512, tokens) text features
    "durations": DURATIONS_OUTPUT,
    "asr": "/encoder/MatMul_1_output_0",  # (1, 512, frames) text features expanded by the durations
    "f0": _F0_TENSOR,  # (1, 2 * frames) predicted F0 in Hz, 80 per second, before f0_scale
    "n": "/encoder/Reshape_1_output_0",  # (1, 2 * frames) predicted energy
}


LORA_RANK = 4
# Module paths of the convolutions that get a low-rank update: the decoder's residual convolutions and every
# convolution of the vocoder's resblocks, plus its output convolution (the spectral envelope and phase).
_LORA_TARGETS = re.compile(
    r"(encode|decode\.\d+)\.conv[12]|generator\.resblocks\.\d+\.convs[12]\.\d+|generator\.conv_post"
)


@dataclass(frozen=True)
class LoraConv:
    """One low-rank update: ``down`` (rank, in, kernel) then ``up`` (out, rank, 1), in that order in the vector."""

    key: str  # module path such as "generator.resblocks.0.convs1.0"
    out_channels: int
    in_channels: int
    kernel: int
    rank: int

    @property
    def down_size(self) -> int:
        return self.rank * self.in_channels * self.kernel

    @property
    def size(self) -> int:
        return self.down_size + self.out_channels * self.rank


@dataclass(frozen=True)
class AdapterLayout:
    """What the adapter vector covers, in order: the decoder's AdaIN biases (``keys``/``sizes``), then the
    low-rank updates (``lora``; empty in the graph every voice without them uses)."""

    keys: tuple[str, ...]  # module paths such as "generator.resblocks.0.adain1.0"
    sizes: tuple[int, ...]
    lora: tuple[LoraConv, ...] = ()

    @property
    def bias_size(self) -> int:
        return int(sum(self.sizes))

    @property
    def size(self) -> int:
        return self.bias_size + sum(c.size for c in self.lora)

    def offsets(self) -> dict[str, tuple[int, int]]:
        ends = np.cumsum(self.sizes)
        return {k: (int(e - n), int(e)) for k, n, e in zip(self.keys, self.sizes, ends, strict=True)}

    def lora_offsets(self) -> dict[str, tuple[int, int, int]]:
        """``key -> (start, middle, end)``: ``down`` is ``[start:middle]``, ``up`` ``[middle:end]``."""
        out, start = {}, self.bias_size
        for conv in self.lora:
            out[conv.key] = (start, start + conv.down_size, start + conv.size)
            start += conv.size
        return out

    def to_json(self) -> dict:
        return {"keys": list(self.keys), "sizes": list(self.sizes), "lora": [asdict(c) for c in self.lora]}

    @classmethod
    def from_json(cls, data: dict) -> AdapterLayout:
        return cls(tuple(data["keys"]), tuple(data["sizes"]), tuple(LoraConv(**c) for c in data["lora"]))


def adapter_layout(model: object, lora: bool = False) -> AdapterLayout:
    """The adapter layout of a loaded ``onnx.ModelProto`` (sorted by name, so it never depends on node order);
    with the low-rank updates if ``lora``."""
    biases = sorted(
        (init.name, int(np.prod(init.dims)))
        for init in model.graph.initializer  # type: ignore[attr-defined]
        if init.name.startswith(_FC_BIAS_PREFIX) and init.name.endswith(_FC_BIAS_SUFFIX)
    )
    if not biases:
        raise ValueError("this Kokoro graph has no decoder AdaIN biases; it is not the packaged model")
    keys = tuple(name[len(_FC_BIAS_PREFIX) : -len(_FC_BIAS_SUFFIX)] for name, _ in biases)
    convs = tuple(sorted((conv for conv, _ in _lora_nodes(model)), key=lambda c: c.key)) if lora else ()
    return AdapterLayout(keys, tuple(n for _, n in biases), convs)


def _conv_key(node_name: str) -> str:
    """Node name to module path: ".../generator/resblocks.0/convs1.0/Conv_quant" -> "generator.resblocks.0.convs1.0"."""
    return ".".join(node_name[len("/decoder/decoder/") :].split("/")[:-1])


def _lora_nodes(model: object) -> list[tuple[LoraConv, object]]:
    """The convolutions that get a low-rank update, with their nodes."""
    inits = {i.name: tuple(i.dims) for i in model.graph.initializer}  # type: ignore[attr-defined]
    found = []
    for node in model.graph.node:  # type: ignore[attr-defined]
        if node.op_type not in ("Conv", "ConvInteger") or not node.name.startswith("/decoder/decoder/"):
            continue
        key = _conv_key(node.name)
        if not _LORA_TARGETS.fullmatch(key) or node.input[1] not in inits:
            continue
        out_channels, in_channels, kernel = inits[node.input[1]]
        found.append((LoraConv(key, out_channels, in_channels, kernel, LORA_RANK), node))
    return found


def _add_lora(model: object, layout: AdapterLayout, pieces: list[str]) -> None:
    """Insert the low-rank branches (``pieces``: the adapter's split outputs after the biases, two per conv)."""
    from onnx import helper

    graph = model.graph  # type: ignore[attr-defined]
    producer = {out: node for node in graph.node for out in node.output}
    nodes_of = {conv.key: node for conv, node in _lora_nodes(model)}
    after: dict[str, list] = {}  # output tensor of a conv -> the nodes to insert after its producer
    renamed: dict[str, str] = {}
    head = []
    for i, conv in enumerate(layout.lora):
        node = nodes_of[conv.key]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "ConvInteger":  # dynamically quantised: the float input is the quantiser's input
            x = producer[node.input[0]].input[0]
            out = node.name[: -len("/Conv_quant")] + "/Conv_output_0"
        else:
            x, out = node.input[0], node.output[0]
        down, up, tag = pieces[2 * i], pieces[2 * i + 1], f"lora_{conv.key}"
        for name, piece, shape in (
            (f"{tag}_down", down, [conv.rank, conv.in_channels, conv.kernel]),
            (f"{tag}_up", up, [conv.out_channels, conv.rank, 1]),
        ):
            shape_name = f"{name}_shape"
            graph.initializer.append(helper.make_tensor(shape_name, 7, [3], shape))  # 7: INT64
            head.append(helper.make_node("Reshape", [piece, shape_name], [name]))
        conv_attrs = {k: attrs[k] for k in ("dilations", "pads", "strides") if k in attrs}
        after[out] = [
            helper.make_node("Conv", [x, f"{tag}_down"], [f"{tag}_low"], **conv_attrs),
            helper.make_node("Conv", [f"{tag}_low", f"{tag}_up"], [f"{tag}_delta"]),
            helper.make_node("Add", [out, f"{tag}_delta"], [f"{out}_lora"]),
        ]
        renamed[out] = f"{out}_lora"
    if pieces:
        after[pieces[-1]] = head  # the reshapes follow the Split that makes the pieces
    ordered = []
    for node in graph.node:
        for j, name in enumerate(node.input):
            if name in renamed:
                node.input[j] = renamed[name]
        ordered.append(node)
        for out in node.output:
            ordered.extend(after.get(out, ()))
    del graph.node[:]
    graph.node.extend(ordered)


def adaptable_graph(path: Path, *, probes: bool = False, lora: bool = False) -> tuple[bytes, AdapterLayout]:
    """The packaged graph with the ``adapter`` and ``f0_scale`` inputs (and the probe outputs; the low-rank
    branches if ``lora``: they cost about a tenth more time, so only voices that have them use that graph)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    graph = model.graph
    layout = adapter_layout(model, lora)
    graph.input.append(helper.make_tensor_value_info(ADAPTER_INPUT, TensorProto.FLOAT, [layout.size]))
    graph.input.append(helper.make_tensor_value_info(F0_SCALE_INPUT, TensorProto.FLOAT, [1]))
    pieces = [f"adapter_piece_{i}" for i in range(len(layout.keys))]
    lora_pieces = [f"adapter_lora_{i}_{part}" for i in range(len(layout.lora)) for part in ("down", "up")]
    lora_sizes = [n for c in layout.lora for n in (c.down_size, c.size - c.down_size)]
    split_sizes = helper.make_tensor(
        "adapter_split_sizes", TensorProto.INT64, [len(pieces) + len(lora_pieces)], [*layout.sizes, *lora_sizes]
    )
    graph.initializer.append(split_sizes)
    new_nodes = [helper.make_node("Split", [ADAPTER_INPUT, "adapter_split_sizes"], pieces + lora_pieces, axis=0)]
    renamed: dict[str, str] = {}
    for key, piece in zip(layout.keys, pieces, strict=True):
        bias = f"{_FC_BIAS_PREFIX}{key}{_FC_BIAS_SUFFIX}"
        renamed[bias] = f"{bias}_adapted"
        new_nodes.append(helper.make_node("Add", [bias, piece], [renamed[bias]]))
    scaled_f0 = f"{_F0_TENSOR}_scaled"
    renamed[_F0_TENSOR] = scaled_f0
    new_nodes.append(helper.make_node("Mul", [_F0_TENSOR, F0_SCALE_INPUT], [scaled_f0]))
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    # Topological order: the Split/Add nodes only need inputs and initializers; the F0 Mul needs its producer.
    producer = next(i for i, n in enumerate(graph.node) if _F0_TENSOR in n.output)
    nodes = list(graph.node)
    ordered = new_nodes[:-1] + nodes[: producer + 1] + [new_nodes[-1]] + nodes[producer + 1 :]
    del graph.node[:]
    graph.node.extend(ordered)
    _add_lora(model, layout, lora_pieces)
    for tensor in PROBES.values() if probes else (DURATIONS_OUTPUT,):
        graph.output.append(helper.make_empty_tensor_value_info(tensor))
    return model.SerializeToString(), layout


@cache
def cached_layout(path: Path, lora: bool = False) -> AdapterLayout:
    import onnx

    return adapter_layout(onnx.load(str(path), load_external_data=False), lora)
