"""MinAtar (Young & Tian 2019): 10x10 miniature Atari games for CPU-scale experiments.

We wrap ``minatar.Environment`` ourselves rather than use the package's ``MinAtar/<Game>-v1``
gymnasium ids, because those return channel-last ``bool`` arrays, cannot seed without a reset and
carry the last action of the previous episode into the next one's sticky-action draw. Here:

* observations are channel-first ``(C, 10, 10)`` (``float32`` by default, ``obs_dtype="uint8"``
  to store 4x smaller), the layout :class:`rlsuite.nets.MinAtarCNN` and ``build_encoder`` expect;
* the minimal action set by default (``minimal_action_set=False`` gives all 6 actions, the v0 ids);
* sticky actions with ``sticky_action_prob`` (0.1, the paper's setting) and difficulty ramping on;
* ``reset(seed=...)`` reseeds the game and sticky-action RNG, so a seed fixes the whole episode;
* an optional step cap ``max_episode_steps`` (default 100k) so a perfect player cannot stall an
  evaluation forever (Breakout and Space Invaders respawn their targets); the paper has none.

There is no reward clipping or life loss to switch off, so ``training`` changes nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import gymnasium as gym
import numpy as np

from rlsuite.env_plugin import EnvPlugin
from rlsuite.errors import ConfigError, unknown

GAMES = {
    "asterix": "Asterix",
    "breakout": "Breakout",
    "freeway": "Freeway",
    "seaquest": "Seaquest",
    "space_invaders": "SpaceInvaders",
}


def _import_minatar() -> type:
    """Import ``minatar.Environment`` without its root-logger warning about seaborn (only its
    matplotlib GUI needs seaborn; we render ourselves)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        from minatar import Environment
    finally:
        logging.disable(previous)
    return Environment


class MinAtarEnv(gym.Env):
    """One MinAtar game as a Gymnasium env with channel-first observations."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        game: str,
        *,
        sticky_action_prob: float = 0.1,
        difficulty_ramping: bool = True,
        minimal_action_set: bool = True,
        obs_dtype: str = "float32",
        max_episode_steps: int | None = 100_000,
        render_mode: str | None = None,
    ):
        Environment = _import_minatar()
        if game not in GAMES:
            raise unknown("MinAtar game", game, GAMES)
        if not 0.0 <= sticky_action_prob <= 1.0:
            raise ConfigError(f"sticky_action_prob must be in [0, 1], got {sticky_action_prob}")
        self.game_name = game
        self.game = Environment(
            game, sticky_action_prob=sticky_action_prob, difficulty_ramping=difficulty_ramping
        )
        self.sticky_action_prob = sticky_action_prob
        self._actions = (
            list(self.game.minimal_action_set())
            if minimal_action_set
            else list(range(self.game.num_actions()))
        )
        h, w, c = self.game.state_shape()
        self._dtype = np.dtype(obs_dtype)
        self.observation_space = gym.spaces.Box(0, 1, (c, h, w), dtype=self._dtype)
        self.action_space = gym.spaces.Discrete(len(self._actions))
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self._steps = 0

    def _obs(self) -> np.ndarray:
        return np.ascontiguousarray(self.game.state().transpose(2, 0, 1), dtype=self._dtype)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self.game.seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
        self.game.reset()
        self.game.last_action = 0  # don't let the previous episode's action stick into this one
        self._steps = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        reward, done = self.game.act(self._actions[int(action)])
        self._steps += 1
        truncated = not done and self.max_episode_steps is not None and self._steps >= self.max_episode_steps
        return self._obs(), float(reward), bool(done), truncated, {}

    def render(self) -> np.ndarray | None:
        """An RGB image (10x10 cells scaled 16x): each channel gets a fixed colour, last one wins."""
        if self.render_mode != "rgb_array":
            return None
        state = self.game.state()
        n = state.shape[-1]
        palette = (np.stack([np.linspace(40, 255, n), np.linspace(255, 60, n), np.full(n, 160.0)], 1)).astype(
            np.uint8
        )
        img = np.zeros((*state.shape[:2], 3), dtype=np.uint8)
        for ch in range(n):
            img[state[..., ch].astype(bool)] = palette[ch]
        return img.repeat(16, 0).repeat(16, 1)


def parse_game(id: str | None) -> tuple[str, bool | None]:
    """``"MinAtar/Breakout-v1" | "MinAtar-Breakout" | "Breakout" | "space_invaders"`` -> (game,
    whether the id asks for the minimal action set: v1 yes, v0 no, otherwise ``None``)."""
    if not id:
        raise ConfigError("the minatar plugin needs a game id, e.g. 'MinAtar/Breakout-v1'")
    m = re.fullmatch(r"(?:MinAtar[/-])?(.+?)(?:-v(\d+))?", id)
    assert m is not None
    name = m.group(1)
    game = name if name.islower() else re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    if game not in GAMES:
        raise unknown("MinAtar game", id, [f"MinAtar/{g}-v1" for g in GAMES.values()])
    minimal = None if m.group(2) is None else m.group(2) != "0"
    return game, minimal


class MinAtarPlugin(EnvPlugin):
    """MinAtar games as channel-first (C, 10, 10) Gymnasium envs with sticky actions."""

    provider = "minatar"
    description = (
        "MinAtar (10x10 Atari): MinAtar/{Asterix,Breakout,Freeway,Seaquest,SpaceInvaders}-v1; "
        "(C,10,10) obs, minimal actions, sticky_action_prob=0.1"
    )

    def make(
        self,
        id: str | None,
        *,
        training: bool = True,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> gym.Env:
        """Build one MinAtar env; ``kwargs``: ``sticky_action_prob``, ``difficulty_ramping``,
        ``minimal_action_set``, ``obs_dtype``, ``max_episode_steps``."""
        try:
            _import_minatar()
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ConfigError("MinAtar envs need minatar: pip install 'rlsuite[minatar]'") from e
        game, minimal = parse_game(id)
        if minimal is not None:
            kwargs.setdefault("minimal_action_set", minimal)
        try:
            return MinAtarEnv(game, render_mode=render_mode, **kwargs)
        except TypeError as e:
            raise ConfigError(f"bad MinAtar kwargs {sorted(kwargs)}: {e}") from e

    def ids(self) -> list[str]:
        return [f"MinAtar/{g}-v1" for g in GAMES.values()]
