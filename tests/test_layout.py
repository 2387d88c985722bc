"""The layering rules of `pipecli/`, read from the source with `ast` (nothing is imported, so the test also
sees imports inside functions, which run only when a command needs them).

Every `import` and `from ... import` of a `pipecli` module is an edge of the graph, at module level or inside a
function; imports under `if TYPE_CHECKING:` are left out of the first cycle check (they never run) but held
to the second and to the contracts. The rules:

1. No import cycles, module-level or function-local: a cycle is printed as `a -> b -> a`. Nor one closed by
   an import under `if TYPE_CHECKING:`: it never runs, but the two modules still lean on each other's names
   (the way `store.migrations` once typed its argument as `store.db.Store`, which imports it).
2. Only `pipecli.cli` imports `pipecli.cli`, `typer`, `click` or `rich`: the core returns data and never
   prints. (`pipecli/__main__.py`, which is `python -m pipecli`, runs the command line.) `pipecli.ui`, the
   board app, is the other front end: it may import `rich` and `textual`, never the command line; and
   nothing but `pipecli.ui` imports `textual`, so no other command pays for it.
3. `pipecli.store` imports nothing of the domain: only `pipecli.errors`, `pipecli.clock`, `pipecli.money`,
   `pipecli.config`, `pipecli.formats` and `pipecli.store` itself (today it uses `errors`, `clock` and
   `config`; the rest of the base may join them). Seeding the default pipeline and everything else about
   leads lives above it.
4. Every function-local import of a `pipecli` module or of a third-party package says why it is not at the
   top of its module, in a comment on its line or on the line above (a comment above a block of consecutive
   imports covers the block). Function-local imports of the standard library need no reason.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import pipecli

# the package under test: the source tree, or the installed wheel when CI runs the suite against it
PACKAGE = Path(pipecli.__file__).resolve().parent
# `pipecli` itself: the distribution name and version
STORE_MAY_IMPORT = {"pipecli", "pipecli.errors", "pipecli.clock", "pipecli.money", "pipecli.config", "pipecli.formats"}
UI_LIBRARIES = {"typer", "rich", "click"}
APP_LIBRARIES = {"rich", "textual"}  # what the board app (`pipecli.ui`) may import of the terminal libraries


@dataclass(frozen=True)
class Import:
    """One import statement's target as the importing module sees it."""

    importer: str  # dotted name of the module holding the statement
    target: str  # dotted name of the module imported (a pipecli module, or a top-level package name)
    line: int
    end_line: int  # the last line of a statement that spans several
    local: bool  # inside a function: runs only when the function is called
    typing_only: bool  # under `if TYPE_CHECKING:`: never runs


def module_name(path: Path) -> str:
    """Return the dotted module name of a file under PACKAGE (`pipecli/store/db.py` -> `pipecli.store.db`)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    """Return every module of the package by dotted name."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = all_modules()


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """Return the absolute module a `from X import ...` names, resolving relative imports."""
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path) -> list[Import]:
    """Return every import in one module: for `from pkg import a`, the submodule `pkg.a` when it is one."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, local: bool, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_local = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(name, _pipecli_or_top(alias.name), *_span(child), local, typing_only))
            elif isinstance(child, ast.ImportFrom):
                source = resolve(name, is_package, child)
                for alias in child.names:
                    submodule = f"{source}.{alias.name}"
                    target = submodule if submodule in MODULES else source
                    found.append(Import(name, _pipecli_or_top(target), *_span(child), local, typing_only))
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), child_local, True)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), child_local, typing_only)
            else:
                visit(child, child_local, typing_only)

    visit(tree, False, False)
    return found


def _span(node: ast.stmt) -> tuple[int, int]:
    return node.lineno, node.end_lineno or node.lineno


def _pipecli_or_top(module: str) -> str:
    """Keep a pipecli module's full name; reduce any other import to its top-level package."""
    return module if module == "pipecli" or module.startswith("pipecli.") else module.split(".")[0]


IMPORTS = [imp for name, path in MODULES.items() for imp in imports_of(name, path)]


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return one cycle (as a path that ends where it starts) per strongly connected component of more than
    one module, or of one module that imports itself (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in edges.get(node, ()):
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return [_cycle_through(component, edges) for component in components]


def _cycle_through(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """Return a shortest cycle from the component's first module back to itself (breadth first)."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for child in sorted(edges.get(node, ())):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if child in members and child not in previous:
                    previous[child] = node
                    next_frontier.append(child)
        frontier = next_frontier
    raise AssertionError(f"no cycle in component {component}")


def test_the_walk_sees_the_package():
    """A guard for the test itself: it reads real modules and finds both kinds of import."""
    assert {"pipecli.cli", "pipecli.store.db", "pipecli.leads"} <= MODULES.keys()
    assert any(imp.local for imp in IMPORTS) and any(not imp.local for imp in IMPORTS)
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"a"}}) == [["a", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    """Module-level and function-local imports together form no cycle."""
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for imp in IMPORTS:
        if imp.target in MODULES and not imp.typing_only and imp.target != imp.importer:
            edges[imp.importer].add(imp.target)
    cycles = find_cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_import_cycles_through_type_only_imports():
    """Counting the imports under `if TYPE_CHECKING:` too, the modules form no cycle: a dependency goes one way
    even when one side only names the other's types (hand it a protocol or what it needs instead)."""
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for imp in IMPORTS:
        if imp.target in MODULES and imp.target != imp.importer:
            edges[imp.importer].add(imp.target)
    assert any(imp.typing_only and imp.target in MODULES for imp in IMPORTS), "the walk sees type-only imports"
    cycles = find_cycles(edges)
    assert not cycles, "import cycles through type-only imports:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_only_the_cli_imports_the_cli_and_terminal_libraries():
    """The core returns data: nothing outside `pipecli.cli` imports it, typer, click or rich."""
    offending = [
        f"{MODULES[imp.importer].relative_to(PACKAGE.parent)}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if not in_package(imp.importer, "pipecli.cli")
        and imp.importer != "pipecli.__main__"  # `python -m pipecli` runs the command line
        and (in_package(imp.target, "pipecli.cli") or imp.target in UI_LIBRARIES)
        and not (in_package(imp.importer, "pipecli.ui") and imp.target in APP_LIBRARIES)
    ]
    assert not offending, "\n".join(offending)


def test_only_the_board_app_imports_textual():
    """textual is the `ui` extra: only `pipecli.ui` imports it (`pipecli.cli.ui` imports `pipecli.ui` on use)."""
    offending = [
        f"{MODULES[imp.importer].relative_to(PACKAGE.parent)}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if imp.target == "textual" and not in_package(imp.importer, "pipecli.ui")
    ]
    assert not offending, "\n".join(offending)
    assert any(imp.target == "textual" for imp in IMPORTS), "the walk sees pipecli.ui's textual imports"


def test_the_store_imports_nothing_of_the_domain():
    """`pipecli.store` sits under the domain: it imports only the base modules and itself."""
    offending = [
        f"{MODULES[imp.importer].relative_to(PACKAGE.parent)}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if in_package(imp.importer, "pipecli.store")
        and in_package(imp.target, "pipecli")
        and not in_package(imp.target, "pipecli.store")
        and imp.target not in STORE_MAY_IMPORT
    ]
    assert not offending, "\n".join(offending)


def _needs_reason(imp: Import) -> bool:
    return imp.local and imp.target not in sys.stdlib_module_names and imp.target != "__future__"


def _has_reason(lines: list[str], imp: Import, starts: dict[int, int]) -> bool:
    """True when the import has a comment on one of its lines, or on the line above it or above the block of
    consecutive imports it belongs to (blank lines between their groups allowed); `starts` maps every line of an import statement to its first line."""
    if any("#" in lines[n - 1] for n in range(imp.line, imp.end_line + 1)):
        return True
    above = imp.line - 1
    while above >= 1:
        if lines[above - 1].strip().startswith("#"):
            return True
        if not lines[above - 1].strip():  # a blank line between groups of one block of imports
            above -= 1
            continue
        if above not in starts:
            return False
        if any("#" in lines[n - 1] for n in range(starts[above], above + 1)):
            return False  # that import's own reason
        above = starts[above] - 1
    return False


def unexplained_imports(module: str) -> list[Import]:
    """Return the module's function-local imports that need a reason and give none."""
    lines = MODULES[module].read_text(encoding="utf-8").splitlines()
    own = [imp for imp in IMPORTS if imp.importer == module]
    starts = {n: imp.line for imp in own for n in range(imp.line, imp.end_line + 1)}
    return [imp for imp in own if _needs_reason(imp) and not _has_reason(lines, imp, starts)]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_function_local_imports_say_why(module):
    """An import inside a function makes a reader ask why it is not at the top: its comment answers."""
    lines = MODULES[module].read_text(encoding="utf-8").splitlines()
    where = MODULES[module].relative_to(PACKAGE.parent)
    unexplained = sorted({f"{where}:{imp.line}: {lines[imp.line - 1].strip()}" for imp in unexplained_imports(module)})
    assert not unexplained, "function-local imports without a reason:\n" + "\n".join(unexplained)
