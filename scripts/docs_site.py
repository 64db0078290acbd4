"""MkDocs hook that generates the documentation's tables from the code and the stored results.

Listed under ``hooks:`` in mkdocs.yml, so ``mkdocs build`` runs it; nothing is written to docs/.
Markers in a page are replaced when the page is built:

- ``<!-- hparams: NAME -->``: the hyperparameter table of the registered agent NAME, read from its
  ``Config`` dataclass (name, default, domain from the field metadata, meaning from the comment next
  to the field or above it, else from :data:`COMMON_MEANINGS`), with the agent's ``preset`` applied.
- ``<!-- agent-doc: NAME -->``: the agent class's docstring (its deviations from the paper).
- ``<!-- module-doc: NAME -->``: the docstring of the module that defines agent NAME (the paper's
  algorithm as implemented, and where the implementation departs from it).
- ``<!-- results: NAME -->``: every results file under docs/results/data/ whose ``agents`` lists NAME
  or whose ``tasks`` lists NAME (``all`` for every file), rendered as tables with their command, date, hardware
  and the library versions (``versions``: name -> version, or why a peer was skipped), and the file's
  learning-curve ``figure`` (a PNG under docs/results/ drawn by scripts/make_figures.py).
- ``<!-- agents-index -->``: one line per registered agent with a link to its page.

Every registered agent that no page under docs/agents/ covers (with an ``hparams`` marker) gets a
generated page, so a new agent appears on the site without editing the docs.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs"
RESULTS = DOCS / "results" / "data"
MARKER = re.compile(r"<!--\s*(hparams|config-keys|agent-doc|module-doc|results|agents-index)\s*:?\s*([\w-]*)\s*-->")

# Keys that mean the same in every agent (README "Config keys mean the same in every agent"): the
# meaning of an agent's field without a comment of its own. agent.net.* and runtime.* keys take theirs
# from the comments of NetConfig and RuntimeConfig (rlsuite/config.py).
COMMON_MEANINGS = {
    "gamma": "discount factor",
    "n_envs": "parallel envs (steps are summed over them, like total_steps)",
    "lr": "learning rate",
    "batch_size": "minibatch size of one gradient step",
    "buffer_size": "replay buffer capacity in transitions",
    "learning_starts": "env steps before the first update (summed over envs)",
    "train_freq": "env steps between updates (summed over envs)",
    "target_update_interval": "env steps between target-network updates",
    "gradient_steps": "gradient steps per update",
    "optimizer_eps": "the optimizer's epsilon",
    "exploration_initial_eps": "epsilon-greedy: initial epsilon",
    "exploration_final_eps": "epsilon-greedy: final epsilon",
    "exploration_fraction": "fraction of the budget over which epsilon decays",
    "log_interval": "updates between loss records",
    "critic_epochs": "passes of the critic (value baseline) over each batch per update",
    "critic_batch_size": "minibatch size of the critic's gradient steps",
    "seed": "random seed",
    "n_steps": "env steps per env in one rollout",
    "n_epochs": "passes over each rollout",
    "n_minibatches": "minibatches per epoch (overrides batch_size)",
    "gae_lambda": "GAE's lambda (1: Monte-Carlo returns, 0: one-step TD)",
    "normalize_advantage": "standardise advantages per minibatch",
    "max_grad_norm": "gradient-norm clipping threshold",
    "clip_range": "PPO's clipping epsilon of the probability ratio",
    "ent_coef": "entropy bonus coefficient",
    "vf_coef": "value-loss coefficient",
    "target_kl": "stop an update's epochs once the approximate KL exceeds 1.5x this",
    "normalize_obs": "running mean/std normalisation of observations",
    "normalize_reward": "running normalisation of rewards by the return's std",
    "clip_obs": "clip normalised observations to +-this",
    "clip_reward": "clip normalised rewards to +-this",
    "critic_lr": "learning rate of the critic",
    "tau": "Polyak averaging coefficient of the target networks",
    "optimizer": "the optimizer of the update",
    "batch_episodes": "whole episodes per update",
}


def agent_names() -> list[str]:
    from rlsuite import registry

    return registry.agent_names()


def agent_class(name: str) -> Any:
    from rlsuite import registry

    return registry.get_agent(name)


@cache
def _comments_of(cls: type) -> dict[str, str]:
    """Field name -> the comment on its line or the comment lines right above it, in ``cls``'s source."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    source = textwrap.dedent("".join(lines))
    src_lines = source.splitlines()
    out: dict[str, str] = {}
    tree = ast.parse(source)
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node in body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        line = src_lines[node.lineno - 1]
        trailing = line.split("#", 1)[1].strip() if "#" in line and "metadata" not in line.split("#", 1)[1] else ""
        above: list[str] = []
        i = node.lineno - 2
        while i >= 0 and src_lines[i].strip().startswith("#"):
            above.insert(0, src_lines[i].strip().lstrip("#").strip())
            i -= 1
        out[node.target.id] = trailing or " ".join(above)
    return out


def field_meaning(config_cls: type, name: str) -> str:
    for klass in config_cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            text = _comments_of(klass).get(name, "")
            if text:
                return text
    return COMMON_MEANINGS.get(name, "")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def hparam_rows(name: str) -> list[tuple[str, str, str, str]]:
    """(field, default, domain, meaning) for each field of the agent's Config, preset applied."""
    from rlsuite.constraints import constraint_of

    cls = agent_class(name)
    config_cls = cls.Config
    defaults = config_cls()
    preset = dict(getattr(cls, "preset", {}) or {})
    from rlsuite.config import NetConfig, RuntimeConfig

    rows = []
    for f in dataclasses.fields(config_cls):
        value = preset.get(f.name, getattr(defaults, f.name))
        constraint = constraint_of(f)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):  # agent.net: one row per key it reads
            rows.append((f.name, type(value).__name__, "the keys below", "the networks (agent.net.<key>)"))
            used = getattr(config_cls, "net_keys", ())
            for g in dataclasses.fields(value):
                if g.name in used:
                    rule = constraint_of(g)
                    rows.append((f"{f.name}.{g.name}", repr(getattr(value, g.name)),
                                 rule.describe() if rule is not None else "", field_meaning(NetConfig, g.name)))
            continue
        domain = constraint.describe() if constraint is not None else ""
        rows.append((f.name, repr(value), domain, field_meaning(config_cls, f.name)))
    runtime = RuntimeConfig()
    for g in dataclasses.fields(RuntimeConfig):  # the top-level runtime.* switches it reads
        if g.name in getattr(cls, "runtime_keys", ()):
            rule = constraint_of(g)
            rows.append((f"runtime.{g.name}", repr(getattr(runtime, g.name)), rule.describe() if rule else "",
                         field_meaning(RuntimeConfig, g.name) + " (a top-level key: runtime.<key>)"))
    return rows


def section_rows(section: str) -> list[tuple[str, str, str, str, str]]:
    """(key, default, domain, meaning, agents that read it) for every key of ``agent.net.*``
    (``section`` "net") or of the top-level ``runtime.*`` ("runtime")."""
    from rlsuite.config import NetConfig, RuntimeConfig
    from rlsuite.constraints import constraint_of

    config_cls: type = {"net": NetConfig, "runtime": RuntimeConfig}[section]
    defaults = config_cls()
    rows = []
    for f in dataclasses.fields(config_cls):
        readers = [name for name in agent_names()
                   if f.name in (getattr(agent_class(name).Config, "net_keys", ()) if section == "net"
                                 else getattr(agent_class(name), "runtime_keys", ()))]
        rule = constraint_of(f)
        prefix = "agent.net" if section == "net" else "runtime"
        rows.append((f"{prefix}.{f.name}", repr(getattr(defaults, f.name)), rule.describe() if rule else "",
                     field_meaning(config_cls, f.name), ", ".join(readers) or "none"))
    return rows


def config_keys_table(section: str) -> str:
    lines = ["| key | default | domain | meaning | read by |", "|---|---|---|---|---|"]
    for key, default, domain, meaning, readers in section_rows(section):
        lines.append(f"| `{key}` | `{_cell(default)}` | {_cell(domain)} | {_cell(meaning)} | {_cell(readers)} |")
    return "\n".join(lines) + "\n"


def hparam_table(name: str) -> str:
    head = (f"Hyperparameters of `agent={name}` (set with `agent.<name>=<value>`, the network with "
            "`agent.net.<name>=<value>`, runtime switches with `runtime.<name>=<value>`; generated from the code):\n\n")
    lines = ["| name | default | domain | meaning |", "|---|---|---|---|"]
    for field_name, default, domain, meaning in hparam_rows(name):
        lines.append(f"| `{field_name}` | `{_cell(default)}` | {_cell(domain)} | {_cell(meaning)} |")
    return head + "\n".join(lines) + "\n"


ROLE = re.compile(r":(?:class|meth|func|mod|attr|data):`~?([^`]+)`")


def rst_to_markdown(doc: str) -> str:
    """Docstring text as markdown: Sphinx roles and ``double backticks`` become code spans."""
    return ROLE.sub(r"`\1`", doc).replace("``", "`")


def module_doc(name: str) -> str:
    module = inspect.getmodule(agent_class(name))
    return rst_to_markdown(inspect.getdoc(module) or "") + "\n"


def agent_doc(name: str) -> str:
    cls = agent_class(name)
    doc = inspect.getdoc(cls) or ""
    return f"**`{name}`** ({cls.__module__}.{cls.__name__}): {cls.description}\n\n{rst_to_markdown(doc)}\n"


@cache
def result_files() -> tuple[tuple[str, dict[str, Any]], ...]:
    out = []
    for path in sorted(RESULTS.glob("*.json")):
        out.append((path.name, json.loads(path.read_text())))
    return tuple(out)


def results_tables(name: str, page_path: str) -> str:
    """The tables of every stored result that lists ``name`` among its agents or tasks (every one for ``all``)."""
    depth = page_path.count("/")
    link_root = "../" * depth + "results/data/"
    blocks = []
    # on an agent's or a task's page its learning curves come first; the results page keeps file order
    files = result_files() if name == "all" else sorted(result_files(), key=lambda item: "figure" not in item[1])
    for filename, data in files:
        if name != "all" and name not in data.get("agents", []) + data.get("tasks", []):
            continue
        lines = [f"#### {data['title']}", ""]
        lines.append("| " + " | ".join(data["columns"]) + " |")
        lines.append("|" + "---|" * len(data["columns"]))
        for row in data["rows"]:
            lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
        lines.append("")
        lines.append(f"Command: `{data['command']}` · date: {data['date']} · hardware: {data['hardware']} · "
                     f"data: [{filename}]({link_root}{filename})")
        if data.get("versions"):
            lines.append("")
            lines.append("Versions: " + " · ".join(f"{_cell(k)} {_cell(v)}" for k, v in data["versions"].items()))
        if data.get("notes"):
            lines.append("")
            lines.append(_cell(data["notes"]))
        if data.get("figure"):
            if not (DOCS / "results" / data["figure"]).is_file():
                raise FileNotFoundError(f"{filename} names the figure docs/results/{data['figure']}, which does not "
                                        "exist: run python scripts/make_figures.py")
            lines += ["", f"![{_cell(data['title'])}]({'../' * depth}results/{data['figure']})", "",
                      "Figure: `python scripts/make_figures.py` (drawn from the JSON's `curves`)."]
        blocks.append("\n".join(lines))
    if not blocks:
        return "No stored benchmark results for this agent yet.\n"
    return "\n\n".join(blocks) + "\n"


def covered_agents() -> set[str]:
    """Agents with an ``hparams`` marker on a hand-written page under docs/agents/."""
    names: set[str] = set()
    for page in (DOCS / "agents").glob("*.md"):
        names.update(m.group(2) for m in MARKER.finditer(page.read_text()) if m.group(1) == "hparams")
    return names


def agent_page_of(name: str) -> str:
    """docs-relative path of the page that documents agent ``name``."""
    for page in sorted((DOCS / "agents").glob("*.md")):
        if f"<!-- hparams: {name} -->" in page.read_text():
            return f"agents/{page.name}"
    return f"agents/{name}.md"


def generated_page(name: str) -> str:
    import gymnasium as gym

    discrete = gym.spaces.Discrete in getattr(agent_class(name), "action_spaces", ())
    env = "CartPole-v1" if discrete else "Pendulum-v1"
    return (f"# {name}\n\n<!-- agent-doc: {name} -->\n\n## Implementation\n\n<!-- module-doc: {name} -->\n\n"
            "## Usage\n\n"
            f"```bash\nrlsuite train agent={name} env={env}\n```\n\n"
            f"## Hyperparameters\n\n<!-- hparams: {name} -->\n\n## Results\n\n<!-- results: {name} -->\n")


def agents_index(page_path: str) -> str:
    depth = page_path.count("/")
    lines = ["| agent | what it is | page |", "|---|---|---|"]
    for name in agent_names():
        target = agent_page_of(name)
        link = "../" * depth + target
        lines.append(f"| `{name}` | {_cell(agent_class(name).description)} | [{target.split('/')[-1][:-3]}]({link}) |")
    return "\n".join(lines) + "\n"


def render(markdown: str, page_path: str) -> str:
    """Replace every marker in ``markdown`` (the page at docs-relative ``page_path``)."""

    def one(match: re.Match[str]) -> str:
        kind, arg = match.group(1), match.group(2)
        if kind == "hparams":
            return hparam_table(arg)
        if kind == "config-keys":
            return config_keys_table(arg)
        if kind == "agent-doc":
            return agent_doc(arg)
        if kind == "module-doc":
            return module_doc(arg)
        if kind == "results":
            return results_tables(arg, page_path)
        return agents_index(page_path)

    return MARKER.sub(one, markdown)


# ---- mkdocs hooks ----------------------------------------------------------------------------------


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    covered = covered_agents()
    for name in agent_names():
        if name not in covered and files.get_file_from_path(f"agents/{name}.md") is None:
            files.append(File.generated(config, f"agents/{name}.md", content=generated_page(name)))
    return files


def on_nav(nav: Any, config: Any, files: Any) -> Any:
    # Generated agent pages are not in mkdocs.yml's nav: add them to the "Agents" section.
    from mkdocs.structure.pages import Page

    covered = covered_agents()
    for item in nav.items:
        if getattr(item, "title", None) == "Agents":
            for name in agent_names():
                if name not in covered:
                    file = files.get_file_from_path(f"agents/{name}.md")
                    if file is not None:
                        page = Page(name, file, config)
                        page.parent = item
                        item.children.append(page)
                        nav.pages.append(page)
    return nav


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return render(markdown, page.file.src_uri)


HTML_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj):(?=<code>)")


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    # mkdocstrings renders Sphinx roles (:meth:`x`) as ":meth:<code>x</code>": keep the code span only
    return HTML_ROLE.sub("", html)
