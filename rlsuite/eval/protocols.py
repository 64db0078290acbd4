"""Evaluation protocols: how an agent is evaluated, by name (stored with every result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlsuite.errors import unknown


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the env plugin's make()
    epsilon: float = 0.0  # ε-greedy at evaluation for value-based agents (0: greedy)
    max_episode_steps: int | None = None  # agent steps
    # A meta-test protocol (rlsuite.meta.protocol): scored on held-out tasks of a task distribution,
    # one row per task, by the agent's own meta_evaluate(); only for meta-learners.
    meta: bool = False


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("gymnasium", "the env as registered, deterministic policy"),
        Protocol(
            "atari-machado",
            "Machado et al. 2018: sticky actions 0.25, full episodes up to 108k frames, unclipped game score",
            env_kwargs={"protocol": "machado"},
            max_episode_steps=27_000,
        ),
        # 5 minutes of emulator time at 60 Hz = 18,000 frames = 4,500 agent steps at frame skip 4.
        Protocol(
            "atari-nature",
            "Mnih et al. 2015: up to 30 no-op starts, epsilon 0.05, 5-minute (18k-frame) cap, unclipped score",
            env_kwargs={"protocol": "nature", "max_frames": 18_000},
            epsilon=0.05,
            max_episode_steps=4_500,
        ),
        # The leaderboard label carries the setting that makes rows comparable: meta-adaptation/k3
        # (score after 3 gradient steps), meta-trial/e2 (2 episodes per trial).
        Protocol(
            "meta-adaptation",
            "gradient-based meta-test (MAML): held-out tasks, return after 0..k policy-gradient steps "
            "(adapt_steps, default 3); the score is the return after the last step",
            meta=True,
        ),
        Protocol(
            "meta-trial",
            "recurrent meta-test (RL2): held-out tasks, total reward of one trial (hidden state kept across "
            "its episodes), and the mean return of each episode in it",
            meta=True,
        ),
    )
}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise unknown("evaluation protocol", name, PROTOCOLS)
    return PROTOCOLS[name]
