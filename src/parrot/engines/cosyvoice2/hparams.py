"""Reading a CosyVoice2 model directory's hyper-parameters without the reference code.

The release describes its modules in ``cosyvoice2.yaml``, a HyperPyYAML file (``!new:pkg.Class`` builds an
object, ``!name:pkg.func`` binds a function, ``!ref <key>`` refers to a top-level value). Nothing there is
executed here: the file is parsed with a loader that turns each ``!new:``/``!name:`` node into
``{"class": ..., "kwargs": ...}`` and resolves ``!ref`` arithmetic over top-level numbers. The result is
laid out like ``tiny_config.json`` (a node's sub-modules sit next to its ``kwargs``), which is what
``Qwen2LM.from_config``, ``CausalMaskedDiffWithXvec.from_config`` and ``HiFTGenerator.from_config`` take.
The Qwen2 body's sizes come from ``CosyVoice-BlankEN/config.json``.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from pathlib import Path
from typing import Any

from ...errors import ModelError

_REF = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")
_FLOAT_12 = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


class _Ref(str):
    """A ``!ref`` expression waiting to be resolved against the top-level values."""


def _yaml_loader() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        """Safe YAML plus HyperPyYAML tags as inert data."""

    def construct(loader: Any, tag_suffix: str, node: Any) -> Any:
        kind, _, target = tag_suffix.partition(":")
        if isinstance(node, yaml.MappingNode):
            value: Any = loader.construct_mapping(node, deep=True)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_scalar(node)
        if kind in ("new", "name"):
            kwargs = value if isinstance(value, dict) else {}
            if target == "omegaconf.DictConfig":
                return kwargs.get("content", kwargs)
            return {"class": target, "kwargs": kwargs}
        if kind == "ref":
            return _Ref(value)
        return None  # !apply: (seeding) and anything else is not a hyper-parameter

    Loader.add_multi_constructor("!", construct)
    # YAML 1.2 floats such as 1e-06 (YAML 1.1, PyYAML's default, reads them as strings)
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))
    return Loader


def _evaluate(expression: str, scope: dict[str, Any]) -> Any:
    """Value of ``<a>`` or simple arithmetic like ``<a> * <b>`` over top-level values; None if unknown."""
    names = _REF.findall(expression)
    if any(name not in scope for name in names):
        return None
    if re.fullmatch(r"\s*<[A-Za-z_][A-Za-z0-9_]*>\s*", expression):
        return scope[names[0]]
    text = _REF.sub(lambda m: repr(scope[m.group(1)]), expression)

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](value(node.left), value(node.right))
        raise ValueError(expression)

    try:
        return value(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError):
        return None


def _resolve(value: Any, scope: dict[str, Any]) -> Any:
    if isinstance(value, _Ref):
        return _evaluate(value, scope)
    if isinstance(value, dict):
        return {k: _resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, scope) for v in value]
    return value


def _is_node(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"class", "kwargs"}


def _lift(node: dict[str, Any]) -> dict[str, Any]:
    """Move sub-module nodes out of ``kwargs`` next to it (the ``tiny_config.json`` layout)."""
    out: dict[str, Any] = {"class": node["class"], "kwargs": {}}
    for key, value in node["kwargs"].items():
        if _is_node(value):
            out[key] = _lift(value)
        else:
            out["kwargs"][key] = value
    return out


def parse_hyperpyyaml(text: str) -> dict[str, Any]:
    """The ``llm``, ``flow`` and ``hift`` sections of a CosyVoice2 YAML, in the ``tiny_config.json`` layout."""
    import yaml

    try:
        raw = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - the loader is SafeLoader plus inert tags
    except yaml.YAMLError as exc:
        raise ModelError(f"cannot parse the model's YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ModelError("the model's YAML is not a mapping")
    scope = {k: v for k, v in raw.items() if isinstance(v, int | float | str | bool) and not isinstance(v, _Ref)}
    sections = {}
    for name in ("llm", "flow", "hift"):
        node = _resolve(raw.get(name), scope)
        if not _is_node(node):
            raise ModelError(f"the model's YAML has no {name!r} module")
        sections[name] = _lift(node)
    return sections


def model_config(model_dir: Path) -> dict[str, Any]:
    """Configs for the three modules of a downloaded ``CosyVoice2-0.5B`` directory.

    The LLM section's body is ``{"llm_body": {"qwen2_config": <CosyVoice-BlankEN/config.json>}}`` and
    the flow section gets ``n_timesteps`` 10 (the reference's inference default), as in ``tiny_config.json``.
    """
    yaml_path = model_dir / "cosyvoice2.yaml"
    body_path = model_dir / "CosyVoice-BlankEN" / "config.json"
    try:
        config = parse_hyperpyyaml(yaml_path.read_text(encoding="utf-8"))
        body = json.loads(body_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"cannot read the model configuration: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{body_path} is not valid JSON: {exc}") from exc
    llm = config["llm"]
    llm.pop("llm", None)  # the Qwen2Encoder node (only a pretrain path)
    llm["llm_body"] = {"class": "Qwen2Encoder", "qwen2_config": body}
    config["flow"].setdefault("n_timesteps", 10)
    return config
