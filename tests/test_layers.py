"""The layer rule over every module of the installed package, read from source with ``ast``.

* the framework (``rlsuite.*`` other than ``rlsuite.agents``, ``rlsuite.envs`` and ``rlsuite.configs``)
  never imports an agent or an env plugin, neither at module level nor inside a function;
* agents never import env plugins and env plugins never import agents: both talk through the framework;
* no import cycle among the package's own modules, function-local imports included (a lazy import
  of an optional third-party package is not an edge: only the package's own modules are nodes).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# pyproject's package-dir: agents/ installs as rlsuite.agents, envs/ as rlsuite.envs, configs/ as rlsuite.configs.
PACKAGE_DIRS = {"rlsuite": ROOT / "rlsuite", "rlsuite.agents": ROOT / "agents", "rlsuite.envs": ROOT / "envs",
                "rlsuite.configs": ROOT / "configs"}
PLUGIN_PACKAGES = ("rlsuite.agents", "rlsuite.envs", "rlsuite.configs")


def package_modules() -> dict[str, Path]:
    modules = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_modules(module: str, path: Path, known: set[str], module_level_only: bool) -> set[str]:
    """Package modules ``module`` imports: at module level (what runs on import; ``if TYPE_CHECKING``
    blocks do not), or anywhere in the file. ``from pkg import sub`` is an edge to ``pkg.sub`` only;
    it reaches ``pkg`` itself only for a name that is not a submodule."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(nodes: list[ast.AST]) -> None:
        for node in nodes:
            if is_type_checking_block(node):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and module_level_only:
                continue
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    visit([c for c in children if isinstance(c, (ast.stmt, ast.ExceptHandler))])

    visit(tree.body)
    return {name for name in found if name in known and name != module}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                cycle = dfs(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = dfs(start)
            if cycle:
                return cycle
    return None


def import_graph(module_level_only: bool) -> dict[str, set[str]]:
    modules = package_modules()
    return {m: imported_modules(m, modules[m], set(modules), module_level_only) for m in modules}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer(module: str) -> str:
    for package in PLUGIN_PACKAGES:
        if within(module, package):
            return package
    return "rlsuite"


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    allowed = {"rlsuite": {"rlsuite"}, "rlsuite.agents": {"rlsuite", "rlsuite.agents"},
               "rlsuite.envs": {"rlsuite", "rlsuite.envs"}, "rlsuite.configs": {"rlsuite", "rlsuite.configs"}}
    return sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps if layer(d) not in allowed[layer(m)])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_layer_check_sees_a_backwards_import():
    graph = {"rlsuite.run": {"rlsuite.agents.dqn"}, "rlsuite.agents.dqn": {"rlsuite.envs.atari", "rlsuite.agent"},
             "rlsuite.envspec": set(), "rlsuite.envs.atari": {"rlsuite.envspec"}}
    assert layer_violations(graph) == ["rlsuite.agents.dqn -> rlsuite.envs.atari", "rlsuite.run -> rlsuite.agents.dqn"]


def test_the_parser_sees_every_module_and_its_real_edges():
    graph = import_graph(module_level_only=False)
    assert {"rlsuite.agents.dqn", "rlsuite.envs.atari", "rlsuite.buffers.replay"} <= set(graph)
    assert "rlsuite.envs.meta.tabular_mdp" in graph
    assert "rlsuite.config" in graph["rlsuite.agent"]
    assert "rlsuite.registry" in graph["rlsuite.envspec"]  # `from rlsuite import registry`
    assert "rlsuite" not in graph["rlsuite.envspec"]  # ... is not an edge to the package itself
    assert "rlsuite.run" in graph["rlsuite"]  # a function-local import counts


def test_the_framework_never_imports_an_agent_or_an_env_and_plugins_talk_through_it():
    assert layer_violations(import_graph(module_level_only=False)) == []


def test_no_import_cycle_anywhere_even_inside_functions():
    assert find_cycle(import_graph(module_level_only=False)) is None


def test_the_on_policy_loop_runs_the_collector_it_is_given():
    """The loop does not know its back-ends: ``agent.collector`` replaces the local vector env (the
    runner's choice), and ``runtime.workers=0`` picks the local loop without importing Ray's module."""
    import rlsuite
    from rlsuite.onpolicy import OnPolicyAgent, local_rollout_loop

    agent = rlsuite.make_agent("ppo", env="CartPole-v1", tuned=False, seed=0, n_steps=16, batch_size=16)
    assert agent.rollout_loop() is local_rollout_loop
    calls: list[int] = []

    def counting_collector(a: OnPolicyAgent, until_step: int) -> None:
        calls.append(until_step)
        local_rollout_loop(a, until_step)

    agent.collector = counting_collector
    agent.learn(total_steps=32)
    assert calls and agent.steps == 32 and agent.updates == 2


def family(module: str) -> str:
    """``rlsuite.agents.a3c.hogwild`` -> ``rlsuite.agents.a3c``: one agent module or package."""
    return ".".join(module.split(".")[:3])


def test_agents_never_import_each_other():
    """What two agents share (critics, action scaling, losses) is framework code, not one agent's module."""
    graph = import_graph(module_level_only=False)
    agent_modules = {m for m in graph if within(m, "rlsuite.agents") and m != "rlsuite.agents"}
    crossing = sorted(f"{m} -> {d}" for m in agent_modules for d in graph[m]
                      if d in agent_modules and family(d) != family(m))
    assert crossing == []
