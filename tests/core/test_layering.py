"""No import circles between the modules of the core, the bots, the connectors or the flows.

import-linter's ``acyclic_siblings`` contract squashes each package into one node, so it would
call ``backoffice.audit`` and ``backoffice.users`` a circle: the audit package holds both the
chain that ``users`` writes to and the evidence pack that checks users' roles. What must not
happen is a module importing itself through others, so this walks the module graph (grimp, which
import-linter ships) and names every circle with the lines that make it. Imports inside functions
and under ``TYPE_CHECKING`` count: a circle hidden in a function is still a circle.
"""

from __future__ import annotations

from itertools import pairwise

import grimp
import pytest


def _cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return sorted(groups)


def _describe(graph: grimp.ImportGraph, group: list[str]) -> str:
    """One concrete circle through the group's first module, each step with its line."""
    start = group[0]
    first = min(m for m in graph.find_modules_directly_imported_by(start) if m in group)
    back = graph.find_shortest_chain(importer=first, imported=start) or (first, start)
    chain = (start, *back)
    steps = []
    for importer, imported in pairwise(chain):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = f" (l.{details[0]['line_number']})" if details else ""
        steps.append(f"{importer} -> {imported}{where}")
    return f"{', '.join(group)}:\n    " + "\n    ".join(steps)


@pytest.mark.parametrize("package", ["backoffice", "bots", "connectors", "flows"])
def test_no_import_circles(package: str) -> None:
    graph = grimp.build_graph(package, cache_dir=None)
    cycles = _cycles(graph, package)
    assert not cycles, f"import circles in {package}/:\n  " + "\n  ".join(
        _describe(graph, group) for group in cycles
    )


def test_the_circle_finder_finds_a_circle_and_names_it() -> None:
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b", line_number=3, line_contents="import pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c", line_number=4, line_contents="import pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a", line_number=5, line_contents="import pkg.a")
    graph.add_import(importer="pkg.d", imported="pkg.a", line_number=6, line_contents="import pkg.a")
    assert _cycles(graph, "pkg") == [["pkg.a", "pkg.b", "pkg.c"]]
    assert _describe(graph, ["pkg.a", "pkg.b", "pkg.c"]) == (
        "pkg.a, pkg.b, pkg.c:\n    pkg.a -> pkg.b (l.3)\n    pkg.b -> pkg.c (l.4)\n    pkg.c -> pkg.a (l.5)"
    )
