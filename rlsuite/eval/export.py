"""Leaderboard output: a rich table for the terminal, and markdown / CSV / HTML / JSON exports.

Works on either kind of row: ranked groups (:meth:`Leaderboard.ranked`, recognised by ``n_runs``)
or raw results (:meth:`Leaderboard.query`).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from rlsuite.errors import ConfigError, suggest
from rlsuite.eval.ranking import MIN_RUNS_FOR_CI
from rlsuite.eval.stats import DEFAULT_N_BOOT, is_binary

if TYPE_CHECKING:
    from rich.console import JustifyMethod

__all__ = ["FORMATS", "export", "render_table", "table_columns"]

FORMATS = ("markdown", "csv", "html", "json")
_ALIASES = {"md": "markdown"}


def _num(v: Any) -> str:
    if v is None:
        return "—"
    v = float(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _count(v: Any) -> str:
    """1_500_000 -> '1.5M', 100_000 -> '100k'."""
    if v is None:
        return "—"
    v = int(v)
    for div, suf in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if abs(v) >= div:
            s = f"{v / div:.2f}".rstrip("0").rstrip(".")
            return s + suf
    return str(v)


def _ci(r: Mapping[str, Any]) -> str:
    """The IQM's 95 % CI; a ranked group with one run has none, one with few runs is flagged."""
    lo, hi = r.get("iqm_ci_low"), r.get("iqm_ci_high")
    n_runs = r.get("n_runs")
    if n_runs is not None and n_runs < 2:
        return "— (1 run)"
    if lo is None or hi is None:
        return "—"
    text = f"[{_num(lo)}, {_num(hi)}]"
    return text + " few runs" if n_runs is not None and n_runs < MIN_RUNS_FOR_CI else text


def _success(r: Mapping[str, Any]) -> str:
    """Success rate for 0/1 episode returns (ranked rows carry it; raw rows have their returns)."""
    if "n_runs" in r:
        rate = r.get("success_rate")
    else:
        rets = r.get("returns") or []
        rate = float(sum(rets) / len(rets)) if rets and is_binary(rets) else None
    return "—" if rate is None else f"{100 * float(rate):.0f}%"


def _hns(r: Mapping[str, Any]) -> str:
    v = r.get("human_normalized")
    return "—" if v is None else f"{100 * float(v):.1f}%"


def _episode_mean_std(r: Mapping[str, Any]) -> str:
    """Mean ± std over episodes: all runs' episodes pooled (ranked rows) or one run's (raw rows)."""
    if "n_runs" in r:
        m, sd = r.get("episode_mean"), r.get("episode_std")
    else:
        m, sd = r.get("mean"), r.get("std")
    return "—" if m is None else f"{_num(m)} ± {_num(sd)}"


def _steps(r: Mapping[str, Any]) -> str:
    hi, lo = r.get("train_steps"), r.get("train_steps_min")
    if lo is not None and hi is not None and lo != hi:
        return f"{_count(lo)}–{_count(hi)}"
    return _count(hi)


Column = tuple[str, Callable[[Mapping[str, Any]], str], str]  # header, cell text, justify


def _task(r: Mapping[str, Any]) -> str:
    """A task env's primary metric (rlsuite.env_plugin.TaskResult), named: a ranked group's mean
    over its runs (``task``), or one row's own (``extra.task``)."""
    from rlsuite.eval.ranking import task_metric

    found = r.get("task") if "n_runs" in r else task_metric([r])
    return "—" if not found else f"{found['name']} {found['mean']:.3f}"

# What identifies a result group: the same in the ranked and the raw tables.
_IDENTITY: list[Column] = [
    ("Agent", lambda r: str(r["agent"]), "left"),
    ("Env", lambda r: str(r["env_id"]), "left"),
    ("Version", lambda r: str(r.get("env_version") or ""), "left"),
    ("Protocol", lambda r: str(r.get("protocol") or ""), "left"),
    ("Config", lambda r: str(r.get("config_hash") or "")[:8], "left"),
]
# A ranked group's score: the IQM across runs of each run's mean return, and its CI.
_RANK_SCORE: list[Column] = [
    ("IQM", lambda r: _num(r.get("iqm")), "right"),
    ("IQM 95% CI", _ci, "right"),
]
# Episode-level numbers, shown as what they are: the same in both tables.
_EPISODES: list[Column] = [
    ("Episode mean ± std", _episode_mean_std, "right"),
    ("Success", _success, "right"),
    ("Human-norm.", _hns, "right"),
    ("Task metric", lambda r: _task(r), "right"),
]
_RANKED: list[Column] = [
    ("#", lambda r: str(r.get("rank", "")), "right"),
    *_IDENTITY,
    ("Runs", lambda r: str(r.get("n_runs", "")), "right"),
    ("Episodes", lambda r: str(r.get("episodes", "")), "right"),
    ("Steps", _steps, "right"),
    ("Frames", lambda r: _count(r.get("frames")), "right"),
    *_RANK_SCORE,
    *_EPISODES,
]
# One evaluation per row: no IQM here, since an IQM over one run's episodes is not the ranked
# statistic (on 0/1 returns it is 0 or 1 whatever the success rate).
_RAW: list[Column] = [
    ("ID", lambda r: str(r.get("id", "")), "right"),
    *_IDENTITY,
    ("Seed", lambda r: "—" if r.get("seed") is None else str(r["seed"]), "right"),
    ("Episodes", lambda r: str(r.get("episodes", "")), "right"),
    ("Steps", lambda r: _count(r.get("train_steps")), "right"),
    ("Frames", lambda r: _count(r.get("frames")), "right"),
    *_EPISODES,
    ("Created", lambda r: str(r.get("created_at") or "")[:19].replace("T", " "), "left"),
]

#: What the ranked table's statistic is, in one line (terminal caption, markdown, HTML note).
RANKED_CAPTION = (
    "IQM = interquartile mean across runs of each run's mean evaluation return; "
    "95% CI: percentile bootstrap over runs; 'few runs': fewer than "
    f"{MIN_RUNS_FOR_CI} runs, the real interval is wider. Episode mean ± std and success rate "
    "pool all runs' episodes."
)


def table_columns(rows: Sequence[Mapping[str, Any]]) -> list[Column]:
    """The display columns for these rows (ranked or raw); the human-normalized column only for Atari."""
    cols = _RANKED if rows and "n_runs" in rows[0] else _RAW
    if not any(r.get("human_normalized") is not None for r in rows):
        cols = [c for c in cols if c[0] != "Human-norm."]
    if not any(_success(r) != "—" for r in rows):
        cols = [c for c in cols if c[0] != "Success"]
    if all(r.get("frames") in (None, r.get("train_steps")) for r in rows):  # no frame skip: Steps says it
        cols = [c for c in cols if c[0] != "Frames"]
    if all(_task(r) == "—" for r in rows):
        cols = [c for c in cols if c[0] != "Task metric"]
    if not any(r.get("env_version") for r in rows):
        cols = [c for c in cols if c[0] != "Version"]
    return cols


def _cells(rows: Sequence[Mapping[str, Any]]) -> tuple[list[Column], list[list[str]]]:
    cols = table_columns(rows)
    return cols, [[fn(r) for _, fn, _ in cols] for r in rows]


# Dropped first, in this order, when the terminal is too narrow for every column.
_DROP_ORDER = (
    "Created",
    "Version",
    "Frames",
    "Episodes",
    "Episode mean ± std",
    "Config",
    "Protocol",
    "ID",
    "Steps",
)


def _fit(cols: list[Column], cells: list[list[str]], width: int,
         protect: frozenset[str] = frozenset()) -> tuple[list[Column], list[list[str]]]:
    """Drop low-priority columns (never those in ``protect``) until the table fits ``width`` characters."""
    keep = list(range(len(cols)))

    def need() -> int:
        return sum(max(len(cols[i][0]), *(len(row[i]) for row in cells)) + 3 for i in keep) + 1

    for name in (n for n in _DROP_ORDER if n not in protect):
        if need() <= width:
            break
        keep = [i for i in keep if cols[i][0] != name]
    return [cols[i] for i in keep], [[row[i] for i in keep] for row in cells]


def render_table(rows: Sequence[Mapping[str, Any]], console: Any = None, title: str | None = None) -> None:
    """Print ``rows`` as a rich table (ranked by IQM when they come from ``ranked``)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if not rows:
        console.print("[yellow]No leaderboard results match.[/yellow]")
        return
    # Several protocols (e.g. MAML's meta-adaptation/k2 and /k3: the adapt steps are in the name)
    # would otherwise show as look-alike rows ranked #1 each: their column always stays.
    protect = frozenset({"Protocol"}) if len({r.get("protocol") for r in rows}) > 1 else frozenset()
    cols, cells = _fit(*_cells(rows), width=console.width, protect=protect)
    ranked = "n_runs" in rows[0]
    table = Table(
        title=title or ("Leaderboard — ranked by IQM of per-run mean returns" if ranked else "Leaderboard results"),
        caption=RANKED_CAPTION if ranked else None,
        header_style="bold",
        show_lines=False,
    )
    for i, (name, _, just) in enumerate(cols):
        # a protected column is shown whole: other columns wrap first
        width = max(len(row[i]) for row in cells) if name in protect else None
        table.add_column(name, justify=cast("JustifyMethod", just), no_wrap=name in ("IQM", "Steps", "Frames"),
                         min_width=width)
    prev_env = None
    for r, row in zip(rows, cells):
        env = (r.get("env_id"), r.get("protocol"))
        if prev_env is not None and env != prev_env:
            table.add_section()
        prev_env = env
        style = "bold green" if ranked and r.get("rank") == 1 else None
        table.add_row(*row, style=style)
    console.print(table)


def _markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "_No leaderboard results._\n"
    cols, cells = _cells(rows)
    align = {"left": ":---", "right": "---:"}
    esc = [[c.replace("|", "\\|") for c in row] for row in cells]
    lines = [
        "| " + " | ".join(c[0] for c in cols) + " |",
        "| " + " | ".join(align[c[2]] for c in cols) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in esc]
    if "n_runs" in rows[0]:
        lines += ["", RANKED_CAPTION]
    return "\n".join(lines) + "\n"


def _csv(rows: Sequence[Mapping[str, Any]]) -> str:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(keys)
    for r in rows:
        w.writerow(
            ["" if r.get(k) is None else json.dumps(r[k]) if isinstance(r.get(k), list | dict) else r[k] for k in keys]
        )
    return buf.getvalue()


def _json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps([dict(r) for r in rows], indent=2, default=str) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} .meta{color:#666;font-size:.9rem;margin-bottom:1.5rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:.35rem .55rem;border-bottom:1px solid #ddd;white-space:nowrap}
th{background:#f4f4f6;text-align:left;position:sticky;top:0;white-space:normal} td.r,th.r{text-align:right}
tr.first td{font-weight:600;background:#f3fbf3}
tr.section td{background:#fafafa;border-top:2px solid #999;font-weight:600;padding-top:.6rem}
tr.section span{font-weight:400;color:#666}
tbody tr:not(.section):hover td{background:#eef4ff} figure{margin:2rem 0} figure img{max-width:100%;height:auto}
figcaption{color:#555;font-size:.9rem} .note{color:#555;font-size:.85rem;margin-top:.5rem}
"""


def _html(rows: Sequence[Mapping[str, Any]], title: str, plots: bool) -> str:
    """The page: one section per (env, protocol), whose heading row names them (and the env version
    when the whole section shares one), so the table itself needs no Env/Protocol columns and fits a
    1280 px screen without scrolling sideways."""
    cols, cells = _cells(rows) if rows else ([], [])
    ranked = bool(rows) and "n_runs" in rows[0]
    esc = html.escape
    sections: dict[tuple[Any, Any], set[str]] = {}
    for r in rows:
        sections.setdefault((r.get("env_id"), r.get("protocol")), set()).add(str(r.get("env_version") or ""))
    one_version = all(len(v) == 1 for v in sections.values())
    hidden = {"Env", "Protocol"} | ({"Version"} if one_version else set())
    keep = [i for i, c in enumerate(cols) if c[0] not in hidden]
    head = "".join(f'<th class="{"r" if cols[i][2] == "right" else ""}">{esc(cols[i][0])}</th>' for i in keep)
    body = []
    prev = None
    for r, row in zip(rows, cells):
        section = (r.get("env_id"), r.get("protocol"))
        if section != prev:
            version = next(iter(sections[section])) if one_version else ""
            details = " · ".join(x for x in (f"protocol {section[1]}" if section[1] else "", version) if x)
            body.append(
                f'<tr class="section"><td colspan="{len(keep)}">{esc(str(section[0]))} '
                f"<span>{esc(details)}</span></td></tr>"
            )
        prev = section
        cls = "first" if ranked and r.get("rank") == 1 else ""
        tds = "".join(f'<td class="{"r" if cols[i][2] == "right" else ""}">{esc(row[i])}</td>' for i in keep)
        body.append(f'<tr class="{cls}">{tds}</tr>')
    figures = []
    if plots and rows:
        figures = _html_figures(rows, ranked)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        if rows
        else "<p>No leaderboard results.</p>"
    )
    note = (
        '<p class="note">Ranked by the IQM (interquartile mean) across runs of each run\'s score, '
        "the mean of its evaluation episode returns (Agarwal et al. 2021, rliable). 95% CI: "
        f"percentile bootstrap over runs ({DEFAULT_N_BOOT} resamples); <em>few runs</em> marks "
        f"groups with fewer than {MIN_RUNS_FOR_CI} runs, whose real interval is wider than the "
        "bootstrap can show; a single run has no CI and ranks after every entry with several runs. "
        "Episode mean ± std and the success rate (for 0/1 returns) pool all runs' episodes. "
        "Human-normalized = (score − random) / (human − random)."
        "</p>"
        if ranked
        else ""
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{esc(title)}</h1><div class="meta">{len(rows)} rows · generated {stamp} by rlsuite</div>'
        f"{table}{note}{''.join(figures)}</body></html>\n"
    )


def _html_figures(rows: Sequence[Mapping[str, Any]], ranked: bool) -> list[str]:
    from rlsuite.eval import plots

    figs: list[tuple[bytes, str]] = []
    try:
        if ranked:
            figs.append((plots.png_bytes(plots.plot_ranked, rows), "The ranked IQM per env with its 95% CI"))
        scores, label = plots.scores_from_rows(rows)
        # Raw returns of different envs are on different scales: aggregate them only normalized.
        if scores and (label.startswith("human") or len({r["env_id"] for r in rows}) == 1):
            numbers = "; ".join(
                f"{name} {_num(point)} " + ("(1 run, no CI)" if lo is None else f"[{_num(lo)}, {_num(hi)}]")
                for name, (point, lo, hi) in plots.aggregate_iqm(scores, n_boot=DEFAULT_N_BOOT).items()
            )
            figs.append(
                (
                    plots.png_bytes(plots.plot_aggregate, scores, xlabel=label, n_boot=DEFAULT_N_BOOT),
                    f"Aggregate over runs ({label} per run): IQM with 95% stratified-bootstrap CI and "
                    f"performance profile. IQM [CI]: {numbers}",
                )
            )
    except ConfigError:
        pass
    if ranked:
        figs += _rliable_figures(rows)
    return [
        f'<figure><img alt="{html.escape(cap)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        f"<figcaption>{html.escape(cap)}</figcaption></figure>"
        for png, cap in figs
    ]


def _rliable_figures(rows: Sequence[Mapping[str, Any]]) -> list[tuple[bytes, str]]:
    """Probability of improvement, optimality gap (normalized scores) and sample-efficiency curves."""
    from rlsuite.eval import plots, plots_rliable

    figs: list[tuple[bytes, str]] = []
    pairs = plots_rliable.improvement_pairs(rows, n_boot=DEFAULT_N_BOOT)
    if pairs:
        numbers = "; ".join(f"{p['x']} > {p['y']}: {p['p']:.2f} [{p['ci_low']:.2f}, {p['ci_high']:.2f}]"
                            for p in pairs)
        caption = ("Probability of improvement of each env's first-ranked entry over the others (P(X > Y) "
                   f"over run scores, ties count half; 95% stratified bootstrap CI): {numbers}")
        scores, label = plots.scores_from_rows(rows)
        if label.startswith("human") or all(r.get("success_rate") is not None for r in rows):
            gaps = plots_rliable.optimality_gaps(scores, n_boot=DEFAULT_N_BOOT)
            caption += ". Optimality gap (mean shortfall below 1.0, lower is better): " + "; ".join(
                f"{name} {_num(g)}" + ("" if lo is None else f" [{_num(lo)}, {_num(hi)}]")
                for name, (g, lo, hi) in gaps.items())
        figs.append((plots.png_bytes(plots_rliable.plot_probability_of_improvement, pairs), caption))
    curves = plots_rliable.sample_efficiency_scores(rows)
    if curves:
        figs.append((plots.png_bytes(plots_rliable.plot_sample_efficiency, curves),
                     "Sample efficiency: IQM across runs of the evaluation return (eval/mean_return, else "
                     "the training episode return) at evenly spaced budgets up to the shortest run, with "
                     "95% stratified bootstrap bands"))
    return figs


def checked_format(fmt: str, extra: Sequence[str] = ()) -> str:
    """``fmt`` normalised (``md`` is ``markdown``); a ``ConfigError`` naming the accepted formats
    (``FORMATS`` and ``extra``) when it is none of them."""
    f = _ALIASES.get(str(fmt).lower(), str(fmt).lower())
    accepted = (*extra, *FORMATS)
    if f not in accepted:
        raise ConfigError(f"unknown leaderboard format '{fmt}'.{suggest(str(fmt), accepted)} "
                          f"Accepted: {', '.join(accepted)}")
    return f


def export(
    rows: Sequence[Mapping[str, Any]],
    fmt: str,
    out: str | Path | IO[str] | None = None,
    title: str = "rlsuite leaderboard",
    plots: bool = True,
) -> str:
    """Render ``rows`` as ``markdown``, ``csv``, ``html`` or ``json`` and return the text.

    ``json`` is the list of rows as they are (all fields); ``csv`` has every field as a column (lists
    as JSON); ``markdown`` the table as shown in the terminal; ``html`` a single self-contained page
    (inline CSS, plots embedded as base64 PNG) unless ``plots=False``. With ``out`` (a path or an
    open text file) the text is also written there. An unknown ``fmt`` raises ``ConfigError``.
    """
    f = checked_format(fmt)
    rows = list(rows)
    if f == "markdown":
        text = _markdown(rows)
    elif f == "csv":
        text = _csv(rows)
    elif f == "json":
        text = _json(rows)
    else:
        text = _html(rows, title, plots)
    if out is not None:
        if hasattr(out, "write"):
            out.write(text)
        else:
            p = Path(out)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
    return text
