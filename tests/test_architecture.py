"""The import rules of ARCHITECTURE.md, checked on the source (``ast``; nothing is imported or run).

Every ``import`` counts, also those inside functions and under ``TYPE_CHECKING``: a lazy import is still a
dependency. A failure names the file, the line and the import that breaks the rule.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"


@dataclass(frozen=True)
class Import:
    importer: str  # module name, e.g. parrot.server.app
    imported: str  # the deepest module of the source tree the statement names (or the named outside module)
    where: str  # file:line, relative to the source root

    def __str__(self) -> str:
        return f"{self.where} imports {self.imported}"


def modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` under ``root`` (a package directory such as src/parrot)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(root: Path) -> list[Import]:
    """Every import statement in the package at ``root``, resolved to module names."""
    known = modules(root)
    found = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        file = path.relative_to(root.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found += [Import(name, alias.name, f"{file}:{node.lineno}") for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join([*base, node.module] if node.module else base)
                else:
                    module = node.module or ""
                for alias in node.names:  # `from pkg import sub` imports the module pkg.sub
                    sub = f"{module}.{alias.name}"
                    found.append(Import(name, sub if sub in known else module, f"{file}:{node.lineno}"))
    return found


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Rule:
    """Modules under ``importers`` (minus ``except_``) must not import modules under ``forbidden``."""

    importers: tuple[str, ...]
    forbidden: tuple[str, ...]
    why: str
    except_: tuple[str, ...] = ()

    def broken_by(self, found: list[Import]) -> list[Import]:
        return [
            i
            for i in found
            if within(i.importer, self.importers)
            and not within(i.importer, self.except_)
            and within(i.imported, self.forbidden)
        ]


UPPER = ("parrot.api", "parrot.chat", "parrot.server", "parrot.webui", "parrot.cli")
RULES = [
    Rule(("parrot",), ("parrot_dev", "tests", "bench"), "parrot_dev, tests and bench are not part of Parrot"),
    Rule(("parrot",), ("parrot.cli",), "the command line is the top: nothing imports it", except_=("parrot.cli",)),
    Rule(
        ("parrot",),
        ("parrot.server",),
        "only the command line starts the server",
        except_=("parrot.server", "parrot.cli"),
    ),
    Rule(
        ("parrot",),
        ("parrot.webui",),
        "the web UI is served by the server",
        except_=("parrot.webui", "parrot.server", "parrot.cli"),
    ),
    Rule(("parrot.chat",), ("parrot.server", "parrot.webui", "parrot.cli"), "voice chat is below the server"),
    Rule(("parrot.api",), UPPER, "the facade is below its callers (CLI, server, chat)"),
    Rule(("parrot.engines",), UPPER, "engines are called by the facade, never the other way"),
    Rule(("parrot.voices",), ("parrot.engines", "parrot.asr", *UPPER), "voices are data that engines consume"),
    Rule(
        ("parrot.text",),
        ("parrot.engines", "parrot.voices", "parrot.asr", *UPPER),
        "the text front end knows nothing of engines, voices or the facade",
    ),
    Rule(("parrot.errors",), ("parrot",), "errors is the bottom: every layer raises them"),
]


def cycles(found: list[Import]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each a list of module names."""
    graph: dict[str, set[str]] = {}
    for i in found:
        if i.importer != i.imported and i.imported.split(".")[0] == i.importer.split(".")[0]:
            graph.setdefault(i.importer, set()).add(i.imported)
            graph.setdefault(i.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def route_problems(found: list[Import]) -> list[str]:
    """Routes import downward only: no route imports app.py or another route; only the server package's
    ``__init__`` and the command line import app.py (it only wires)."""
    problems = []
    for i in found:
        leaf = i.importer.rpartition(".")[2]
        target = i.imported.rpartition(".")[2] if within(i.imported, ("parrot.server",)) else ""
        if leaf.startswith("routes_") and target.startswith("routes_") and target != leaf:
            problems.append(f"{i}: a route module must not import another route module")
        if i.imported == "parrot.server.app" and i.importer not in ("parrot.server", "parrot.cli"):
            problems.append(f"{i}: app.py only wires the app; nothing below it may import it")
    return problems


@pytest.fixture(scope="module")
def parrot_imports() -> list[Import]:
    return imports(SRC / "parrot")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{'+'.join(r.importers)}-not-{r.forbidden[0]}")
def test_layers_import_downward(parrot_imports: list[Import], rule: Rule) -> None:
    broken = rule.broken_by(parrot_imports)
    assert not broken, f"{rule.why} (ARCHITECTURE.md):\n" + "\n".join(f"  {i}" for i in broken)


def test_routes_import_downward(parrot_imports: list[Import]) -> None:
    problems = route_problems(parrot_imports)
    assert not problems, "\n".join(problems)


def test_no_import_cycles(parrot_imports: list[Import]) -> None:
    found = cycles(parrot_imports)
    lines = [
        f"  {' <-> '.join(group)}:\n"
        + "\n".join(f"    {i}" for i in parrot_imports if i.importer in group and i.imported in group)
        for group in found
    ]
    assert not found, "import cycles (ARCHITECTURE.md allows none):\n" + "\n".join(lines)


def test_the_checks_see_violations(tmp_path: Path) -> None:
    """The checker itself: a made-up package with one breach of each kind is caught, with file and line."""
    pkg = tmp_path / "parrot"
    for path, text in {
        "__init__.py": "",
        "errors.py": "",
        "text/__init__.py": "",
        "text/normalize.py": "import os\nfrom ..engines import base\n",
        "engines/__init__.py": "",
        "engines/base.py": "from parrot.text.normalize import x\n\n\ndef f():\n    import parrot.server\n",
        "server/__init__.py": "from . import app\n",
        "server/app.py": "from . import routes_a, routes_b\n",
        "server/routes_a.py": "from .routes_b import f\n",
        "server/routes_b.py": "def f():\n    from parrot.server.app import create_app\n",
    }.items():
        (pkg / path).parent.mkdir(parents=True, exist_ok=True)
        (pkg / path).write_text(text)
    found = imports(pkg)
    text_rule = next(r for r in RULES if r.importers == ("parrot.text",))
    assert sorted((str(i), r.why) for r in RULES for i in r.broken_by(found)) == [
        ("parrot/engines/base.py:5 imports parrot.server", "engines are called by the facade, never the other way"),
        ("parrot/engines/base.py:5 imports parrot.server", "only the command line starts the server"),
        ("parrot/text/normalize.py:2 imports parrot.engines.base", text_rule.why),
    ]
    assert route_problems(found) == [
        "parrot/server/routes_a.py:1 imports parrot.server.routes_b: a route module must not import another "
        "route module",
        "parrot/server/routes_b.py:2 imports parrot.server.app: app.py only wires the app; nothing below it may "
        "import it",
    ]
    assert sorted(cycles(found)) == [
        ["parrot.engines.base", "parrot.text.normalize"],
        ["parrot.server.app", "parrot.server.routes_a", "parrot.server.routes_b"],
    ]
