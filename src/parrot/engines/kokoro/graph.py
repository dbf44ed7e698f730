"""Kokoro's ONNX graph, opened up for trained voices (``parrot.training``).

The packaged int8 graph is edited once when the engine loads it (in memory; the pinned file is never
changed):

- **adapter** (float32 ``[ADAPTER_SIZE]``): added to the biases of every AdaIN ``fc`` layer of the decoder
  (``decoder.decoder.*.fc.bias``, in ``adapter_layout`` order). For a fixed style these biases are each
  layer's per-channel gain and shift, so a trained voice carries one vector that re-colours every layer of
  the decoder and vocoder. Stock voices feed zeros: the output is bit-identical to the packaged graph.
- **f0_scale** (float32 ``[1]``): multiplies the predicted pitch curve before the decoder (1 = unchanged).

The graph always also returns the durations (``DURATIONS_OUTPUT``, text frames per token), which time every
word (``text.words``); an extra output changes nothing in the audio.

With ``probes=True`` the graph also returns the tensors training needs: the text features before and after
the duration expansion, the durations, and the predicted F0 and energy curves (see ``PROBES``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

ADAPTER_INPUT = "adapter"
F0_SCALE_INPUT = "f0_scale"
_FC_BIAS_PREFIX = "decoder.decoder."
_FC_BIAS_SUFFIX = ".fc.bias"
_F0_TENSOR = "/encoder/Reshape_output_0"
DURATIONS_OUTPUT = "/encoder/Clip_output_0"  # (1, tokens) text frames per token, 40 per second, after speed
GRAPH_VERSION = 2  # bump when the edits below change, so graphs derived by earlier versions are rebuilt

# Names of intermediate tensors of the packaged graph (stable: the file is sha256-pinned in parrot.models).
PROBES = {
    "t_en": "/encoder/text_encoder/Transpose_2_output_0",  # (1, 512, tokens) text features
    "durations": DURATIONS_OUTPUT,
    "asr": "/encoder/MatMul_1_output_0",  # (1, 512, frames) text features expanded by the durations
    "f0": _F0_TENSOR,  # (1, 2 * frames) predicted F0 in Hz, 80 per second, before f0_scale
    "n": "/encoder/Reshape_1_output_0",  # (1, 2 * frames) predicted energy
}


@dataclass(frozen=True)
class AdapterLayout:
    """Which decoder biases the adapter vector covers, in order, and how many values each."""

    keys: tuple[str, ...]  # module paths such as "generator.resblocks.0.adain1.0"
    sizes: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(sum(self.sizes))

    def offsets(self) -> dict[str, tuple[int, int]]:
        ends = np.cumsum(self.sizes)
        return {k: (int(e - n), int(e)) for k, n, e in zip(self.keys, self.sizes, ends, strict=True)}


def adapter_layout(model: object) -> AdapterLayout:
    """The adapter layout of a loaded ``onnx.ModelProto`` (sorted by name, so it never depends on node order)."""
    biases = sorted(
        (init.name, int(np.prod(init.dims)))
        for init in model.graph.initializer  # type: ignore[attr-defined]
        if init.name.startswith(_FC_BIAS_PREFIX) and init.name.endswith(_FC_BIAS_SUFFIX)
    )
    if not biases:
        raise ValueError("this Kokoro graph has no decoder AdaIN biases; it is not the packaged model")
    keys = tuple(name[len(_FC_BIAS_PREFIX) : -len(_FC_BIAS_SUFFIX)] for name, _ in biases)
    return AdapterLayout(keys, tuple(n for _, n in biases))


def adaptable_graph(path: Path, *, probes: bool = False) -> tuple[bytes, AdapterLayout]:
    """The packaged graph with the ``adapter`` and ``f0_scale`` inputs (and the probe outputs), serialised."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    graph = model.graph
    layout = adapter_layout(model)
    graph.input.append(helper.make_tensor_value_info(ADAPTER_INPUT, TensorProto.FLOAT, [layout.size]))
    graph.input.append(helper.make_tensor_value_info(F0_SCALE_INPUT, TensorProto.FLOAT, [1]))
    pieces = [f"adapter_piece_{i}" for i in range(len(layout.keys))]
    split_sizes = helper.make_tensor("adapter_split_sizes", TensorProto.INT64, [len(pieces)], list(layout.sizes))
    graph.initializer.append(split_sizes)
    new_nodes = [helper.make_node("Split", [ADAPTER_INPUT, "adapter_split_sizes"], pieces, axis=0)]
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
    for tensor in PROBES.values() if probes else (DURATIONS_OUTPUT,):
        graph.output.append(helper.make_empty_tensor_value_info(tensor))
    return model.SerializeToString(), layout


@cache
def cached_layout(path: Path) -> AdapterLayout:
    import onnx

    return adapter_layout(onnx.load(str(path), load_external_data=False))
