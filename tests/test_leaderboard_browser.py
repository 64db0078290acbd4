"""The HTML leaderboard in a real headless browser (Chromium): it fits 1280 px without scrolling.

Skipped when no Chromium is installed (``apt-get install chromium``); ``docs/leaderboard.png``
is the checked-in screenshot of a page built from real runs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from rlsuite.eval.leaderboard import Leaderboard, export

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (apt-get install chromium)")

# Appended to a copy of the page: after layout, write what the browser measured into the DOM.
PROBE = """<script>
document.body.insertAdjacentHTML("beforeend", '<pre id="probe">' + JSON.stringify({
  viewport: window.innerWidth, page: document.documentElement.scrollWidth,
  table: document.querySelector("table").getBoundingClientRect().right,
  images: Array.from(document.images).map(i => [i.naturalWidth, i.getBoundingClientRect().right]),
}) + "</pre>");
</script>"""


def _measure(page: str, tmp_path, width: int) -> dict:
    html_file = tmp_path / f"page{width}.html"
    html_file.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    profile = tmp_path / f"profile{width}"
    cmd = [
        str(BROWSER), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--window-size={width},900", "--dump-dom", html_file.as_uri(),
    ]  # fmt: skip
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert found, f"the browser did not run the probe: {dom[:300]!r}"
    return json.loads(found.group(1))


def _several_agents_and_envs(path) -> list[dict]:
    """Ranked rows of 3 envs x 2-4 agents with 1-5 seeds each, a second config, 0/1 returns."""
    groups = [  # env, agent, config, score per seed
        ("CartPole-v1", "ppo", "1302074d77aa", [500.0, 500.0, 487.5, 500.0, 431.0]),
        ("CartPole-v1", "ppo", "5505f5e0a1b2", [326.0, 280.5, 371.0]),
        ("CartPole-v1", "sb3-ppo", "5afbf6c2c3d4", [500.0, 498.0, 500.0]),
        ("CartPole-v1", "dqn", "31a56419e5f6", [122.0]),
        ("FrozenLake-v1", "q_learning", "70c903ea0001", [0.75, 0.7, 0.8, 0.65, 0.75]),
        ("FrozenLake-v1", "expected_sarsa", "70c903ea0002", [0.8, 0.75]),
        ("Acrobot-v1", "ppo", "9a8b7c6d5e4f", [-85.3, -91.0, -79.9]),
        ("Acrobot-v1", "a2c", "0f1e2d3c4b5a", [-102.4]),
    ]
    with Leaderboard(path) as lb:
        for env, agent, config, scores in groups:
            for seed, score in enumerate(scores):
                if env == "FrozenLake-v1":
                    returns = [1.0 if k < round(20 * score) else 0.0 for k in range(20)]
                else:
                    returns = [score - 3.0, score + 3.0] * 10
                lb.add({"agent": agent, "env_id": env, "env_version": "v1 gymnasium 1.2.2", "seed": seed,
                        "protocol": "gymnasium", "config_hash": config, "train_steps": 100_096,
                        "returns": returns, "run_dir": f"runs/{agent}-{env}-s{seed}-{config}"})  # fmt: skip
        return lb.ranked()


def test_html_leaderboard_fits_1280_px_in_a_browser(tmp_path):
    page = export(_several_agents_and_envs(tmp_path / "lb.db"), "html")
    m = _measure(page, tmp_path, 1280)
    assert m["viewport"] == 1280 and m["page"] <= m["viewport"], m  # no horizontal scrolling
    assert m["table"] <= m["viewport"], m
    # the ranked IQM and the probability of improvement (no run directories: no sample efficiency)
    assert len(m["images"]) == 2 and all(0 < right <= m["viewport"] for _, right in m["images"]), m
