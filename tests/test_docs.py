"""The documentation site: every agent's page lists its config fields, and every ``rlsuite`` command
shown in a fenced block of the site (and the README) parses as written."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import re
import shlex
from pathlib import Path

import pytest

from rlsuite import registry
from rlsuite.cli import main
from rlsuite.config import NetConfig, RuntimeConfig, compose

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_spec = importlib.util.spec_from_file_location("docs_site", ROOT / "scripts" / "docs_site.py")
assert _spec is not None and _spec.loader is not None
docs_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs_site)

USER_PAGES = sorted(p for p in DOCS.rglob("*.md") if "dev-notes" not in p.parts and p.name != "tests.md")
INLINE = re.compile(r"`(rlsuite (?:train|config|fit|tune|leaderboard|list|eval|plot|sample) [^`|]*)`")


def shell_blocks(text: str) -> list[str]:
    """The contents of the fenced blocks in ``text`` that are shell (bash, sh, console or no language)."""
    blocks, current, lang = [], [], None
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            if lang is None:
                lang = line.strip()[3:].strip()
                current = []
            else:
                if lang in ("", "bash", "sh", "console"):
                    blocks.append("\n".join(current))
                lang = None
        elif lang is not None:
            current.append(line)
    return blocks


def page_markdown(agent: str) -> tuple[str, str]:
    """(docs-relative path, markdown before rendering) of the page documenting ``agent``."""
    rel = docs_site.agent_page_of(agent)
    path = DOCS / rel
    return rel, path.read_text() if path.is_file() else docs_site.generated_page(agent)


@pytest.mark.parametrize("agent", registry.agent_names())
def test_agent_page_lists_every_config_field(agent: str) -> None:
    rel, markdown = page_markdown(agent)
    rendered = docs_site.render(markdown, rel)
    config_cls = registry.get_agent(agent).Config
    for field in dataclasses.fields(config_cls):
        assert f"| `{field.name}` |" in rendered, f"{rel} does not list {agent}'s config field {field.name}"
    for key in getattr(config_cls, "net_keys", ()):  # the nested agent.net.* keys it reads
        assert f"| `net.{key}` |" in rendered, f"{rel} does not list {agent}'s network key net.{key}"


@pytest.mark.parametrize("agent", registry.agent_names())
def test_every_config_field_has_a_meaning(agent: str) -> None:
    # the meaning column of the agent's table: the comment next to the field, else COMMON_MEANINGS
    empty = [name for name, _, _, meaning in docs_site.hparam_rows(agent) if not meaning.strip()]
    assert not empty, f"{agent}'s table has no meaning for {', '.join(empty)}: comment each field where it is declared"


def test_hparam_meaning_comes_from_the_source_comment() -> None:
    # rlsuite/config.py NetConfig: `# a `rlsuite fit` run (vae/cnn) whose encoder ...` above `encoder`
    rows = {name: meaning for name, _, _, meaning in docs_site.hparam_rows("dqn")}
    assert "rlsuite fit" in rows["net.encoder"]
    assert {"runtime.fused_optimizer", "runtime.numba_acting"} <= rows.keys()  # the switches DQN reads
    assert "runtime.flat_parameters" not in rows  # on-policy only
    defaults = {name: default for name, default, _, _ in docs_site.hparam_rows("rainbow")}
    assert defaults["double"] == "True"  # rainbow's preset applied over DQN's defaults


def test_concepts_page_lists_every_network_and_runtime_key_with_its_meaning() -> None:
    rendered = docs_site.render((DOCS / "concepts.md").read_text(), "concepts.md")
    for section, config_cls in (("agent.net", NetConfig), ("runtime", RuntimeConfig)):
        for field in dataclasses.fields(config_cls):
            assert f"| `{section}.{field.name}` |" in rendered, f"concepts.md does not list {section}.{field.name}"
    for key, _, _, meaning, readers in docs_site.section_rows("net") + docs_site.section_rows("runtime"):
        assert meaning, f"{key} has no meaning: give its field in rlsuite/config.py a comment"
        assert readers != "none", f"no agent reads {key}"
    assert "dqn" in dict((row[0], row[4]) for row in docs_site.section_rows("runtime"))["runtime.compiled_update"]


def shown_commands() -> list[tuple[str, str]]:
    out = []
    for path in [*USER_PAGES, ROOT / "README.md"]:
        for block in shell_blocks(path.read_text()):
            for line in block.replace("\\\n", " ").splitlines():  # continuation lines joined
                line = line.split("  #", 1)[0].strip()
                line = re.sub(r"^(\.venv/bin/)", "", line)
                if line.startswith("rlsuite "):
                    out.append((path.relative_to(ROOT).as_posix(), line))
        # the one-command tables (README, home page) show commands inline in table rows
        for row in (r for r in path.read_text().splitlines() if r.startswith("|")):
            out.extend((path.relative_to(ROOT).as_posix(), c) for c in INLINE.findall(row))
    return out


def test_pages_show_commands() -> None:
    assert len(shown_commands()) >= 20


@pytest.mark.parametrize(("page", "command"), shown_commands())
def test_shown_command_parses(page: str, command: str) -> None:
    words = shlex.split(command.replace("<", "'<").replace(">", ">'"))[1:]
    # "$VAR" words are set earlier in the block
    name, args = words[0], [w for w in words[1:] if w not in ("-m", "...") and not w.startswith("$")]
    if name == "list":
        assert (args and args[0] in ("agents", "envs")) or args == ["agents", "|", "envs"]
        return
    assert name in {"train", "eval", "leaderboard", "list", "config", "plot", "fit", "sample", "tune"}, command
    if name in ("train", "config") and not any("<" in a for a in args):
        # a sweep's comma lists: the first value of each stands for the rest
        compose([a.split(",")[0] if "=" in a and not set("([{") & set(a) else a for a in args])
    elif name == "tune" and not any("<" in a for a in args):
        from rlsuite.distributed.tune import load_search  # checks the search before Ray would start

        search = [a.split("=", 1)[1] for a in args if a.startswith("search=")]
        load_search(search[0], [a for a in args if not a.startswith(("search=", "ray."))])
    elif name == "fit":
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["fit", "--cfg", *[a for a in args if a != "--cfg"]]) == 0, command


def test_results_tables_are_generated_from_the_json() -> None:
    files = docs_site.result_files()
    assert files, "no stored results under docs/results/data"
    rendered = docs_site.render("<!-- results: all -->", "results.md")
    for filename, data in files:
        assert f"({'results/data/'}{filename})" in rendered
        for row in data["rows"]:
            assert "| " + " | ".join(docs_site._cell(v) for v in row) + " |" in rendered


_figures_spec = importlib.util.spec_from_file_location("make_figures", ROOT / "scripts" / "make_figures.py")
assert _figures_spec is not None and _figures_spec.loader is not None
make_figures = importlib.util.module_from_spec(_figures_spec)
_figures_spec.loader.exec_module(make_figures)


CURVE_PAGES = ["tabular", "dqn", "ddpg", "reinforce", "a2c", "ppo", "trpo", "rl2", "maml"]


@pytest.mark.parametrize("page", CURVE_PAGES)
def test_family_page_shows_a_learning_curve(page: str) -> None:
    # benchmarks/curves.py -> docs/results/data/curves_<family>.json -> scripts/make_figures.py -> the PNG
    rendered = docs_site.render((DOCS / "agents" / f"{page}.md").read_text(), f"agents/{page}.md")
    assert f"](../results/figures/curves_{page}.png)" in rendered


def test_each_figure_is_on_the_page_of_each_agent_it_lists() -> None:
    for _, data in make_figures.figure_sources():
        for agent in data["agents"]:
            rel, markdown = page_markdown(agent)
            assert f"results/{data['figure']})" in docs_site.render(markdown, rel), (agent, data["figure"])


@pytest.mark.parametrize("source", [p.name for p, _ in make_figures.figure_sources()])
def test_figure_is_drawn_from_its_json(source: str) -> None:
    data = dict(make_figures.figure_sources())[make_figures.DATA / source]
    committed = make_figures.RESULTS / data["figure"]
    assert committed.is_file(), f"{committed} missing: run python scripts/make_figures.py"
    assert committed.stat().st_size < 200_000
    assert make_figures.draw(data) == committed.read_bytes(), (
        f"{committed} differs from what {source} draws: run python scripts/make_figures.py")


def test_user_pages_cite_nothing_outside_the_repository() -> None:
    for path in USER_PAGES:
        text = path.read_text()
        assert "shared/DESIGN" not in text and "../shared" not in text, path
        assert not re.search(r"\b(I ran|this session|load average)\b", text), path
