"""Atari 2600 games through the Arcade Learning Environment (ale-py), with our own preprocessing.

Two evaluation protocols, chosen with the ``protocol`` kwarg (the env config's ``kwargs`` node):

``"machado"`` (Machado et al. 2018, the default for ``ALE/<Game>-v5`` and bare ``<Game>`` ids)
    sticky actions with probability 0.25 applied by ALE on every emulator frame (exactly what
    ``ALE/<Game>-v5`` does: its frame skip is a loop of per-frame ``ale.act`` calls, which we run
    ourselves to max-pool the last two frames), minimal action set, no no-op starts (the sticky
    actions supply the stochasticity), episodes capped at 108k frames.
``"nature"`` (Mnih et al. 2015; ``<Game>NoFrameskip-v4`` ids default to it)
    deterministic emulator (repeat_action_probability 0), 1..30 no-op frames after each reset,
    episodes capped at 108k frames = 27k agent steps at frame skip 4 (ALE's own cap). The Nature
    paper's *evaluation* cap is shorter, 5 minutes of emulator time = 18k frames = 4,500 agent
    steps: the ``atari-nature`` protocol in :mod:`rlsuite.eval.protocols` sets it.

Both: frame skip 4 with max-pooling over the last two frames (removes Atari sprite flicker),
grayscale 84x84 (ALE's luminance screen, area-averaged by a separable matrix product: exactly
OpenCV's ``INTER_AREA`` without needing OpenCV), the last 4 frames stacked channel-first as a
``(4, 84, 84)`` uint8 array (oldest first), FIRE pressed after reset in games that need it.
In training only (``training=True``): rewards clipped to their sign and a lost life ends the
episode (``terminated=True``; the next ``reset()`` continues the same game). ``training=False``
gives the full game with unclipped scores, which is what results must report. Every default can be
overridden by kwarg (``noop_max``, ``repeat_action_probability``, ``terminal_on_life_loss``, ...).

Info keys (every step): ``raw_reward`` (unclipped reward of the step), ``lives``, ``frames``
(cumulative emulator frames this env has run since construction, no-ops and FIRE resets included;
sum the latest value over envs for a frame count), ``episode_frame_number`` (frames in the current
game) and ``game_over``. On the step where the full game ends (game over or the 108k-frame cap),
also ``game_return`` (unclipped score over all lives) and ``game_length`` (agent steps): report
these, not the per-life training episode returns.
"""

from __future__ import annotations

import inspect
import math
import re
from typing import Any, cast

import gymnasium as gym
import numpy as np

from rlsuite.env_plugin import EnvPlugin
from rlsuite.errors import ConfigError, unknown

PROTOCOLS: dict[str, dict[str, Any]] = {
    "machado": {"repeat_action_probability": 0.25, "noop_max": 0},
    "nature": {"repeat_action_probability": 0.0, "noop_max": 30},
}
BACKENDS = ("ale", "envpool")  # env.backend: vector envs over our ale-py wrapper (default), or EnvPool
COMMON_GAMES = [
    "Pong", "Breakout", "SpaceInvaders", "Seaquest", "Qbert", "BeamRider", "Enduro", "MsPacman",
    "Asterix", "Freeway", "Boxing", "Alien", "Atlantis", "Gopher", "Assault", "DemonAttack",
]  # fmt: skip


def _area_matrix(in_len: int, out_len: int) -> np.ndarray:
    """``(out_len, in_len)`` weights averaging each output cell's footprint (fractional overlaps),
    i.e. area interpolation along one axis; rows sum to 1."""
    scale = in_len / out_len
    m = np.zeros((out_len, in_len), dtype=np.float32)
    for i in range(out_len):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), in_len)):
            m[i, j] = (min(hi, j + 1) - max(lo, j)) / scale
    return m


class AreaResize:
    """Area-interpolation resize of uint8 images (what OpenCV's ``INTER_AREA`` computes).

    The weights are separable and periodic: 210 -> 84 rows repeat every 5 input / 2 output rows,
    160 -> 84 columns every 40 / 21. Two small batched matmuls over those periods cost ~25 us per
    frame here, against ~160 us for the dense ``(84x210) @ img @ (160x84)`` product.
    """

    def __init__(self, in_hw: tuple[int, int], out_hw: tuple[int, int]):
        (ih, iw), (oh, ow) = in_hw, out_hw
        gh, gw = math.gcd(ih, oh), math.gcd(iw, ow)
        self.gh, self.gw, self.in_pw, self.out_hw = gh, gw, iw // gw, (oh, ow)
        self.rows = _area_matrix(ih // gh, oh // gh)  # (out period, in period)
        self.cols = np.ascontiguousarray(_area_matrix(iw // gw, ow // gw).T)  # (in period, out period)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        x = img.astype(np.float32).reshape(self.gh, -1, img.shape[1])
        y = np.matmul(self.rows, x).reshape(self.out_hw[0], self.gw, self.in_pw)
        z = np.matmul(y, self.cols).reshape(self.out_hw)
        z += 0.5  # round to nearest; weights average [0, 255] values so no clipping is needed
        return z.astype(np.uint8)


class AtariPreprocessing(gym.Wrapper):
    """Frame skip + max-pool, 84x84 grayscale, frame stack, no-ops, FIRE reset, episodic life and
    reward clipping in one wrapper that drives the ALE directly.

    One wrapper instead of five: every emulator frame goes straight to ``ale.act`` and the screen
    is written into preallocated buffers, which keeps Python overhead per agent step small (the
    usual chain of gym wrappers costs more than the emulator on a 2-core machine). The wrapped env
    must be an ``ale_py.env.AtariEnv`` with ``frameskip=1`` and ``obs_type="grayscale"``.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        frame_skip: int = 4,
        noop_max: int = 30,
        frame_stack: int = 4,
        screen_size: int = 84,
        terminal_on_life_loss: bool = False,
        clip_rewards: bool = False,
        fire_reset: bool = True,
        max_frames: int | None = 108_000,
    ):
        super().__init__(env)
        if frame_skip < 1 or frame_stack < 1 or noop_max < 0:
            raise ConfigError("frame_skip and frame_stack must be >= 1 and noop_max >= 0")
        ale_env: Any = env.unwrapped  # ale_py.env.AtariEnv (checked by the plugin that builds it)
        self.ale = ale_env.ale
        self._action_set = np.asarray(ale_env._action_set)
        meanings = ale_env.get_action_meanings()
        # FIRE starts the game (or relaunches the ball) in games like Breakout; agents would
        # otherwise waste many early steps before discovering it.
        self._fire = (
            meanings.index("FIRE") if fire_reset and "FIRE" in meanings and len(meanings) >= 3 else None
        )
        self.frame_skip, self.noop_max, self.frame_stack = frame_skip, noop_max, frame_stack
        self.terminal_on_life_loss, self.clip_rewards = terminal_on_life_loss, clip_rewards
        self.max_frames = max_frames
        h, w = self.ale.getScreenDims()
        self._resize = AreaResize((h, w), (screen_size, screen_size))
        self._screens = np.zeros((2, h, w), dtype=np.uint8)
        self._stack = np.zeros((frame_stack, screen_size, screen_size), dtype=np.uint8)
        self.observation_space = gym.spaces.Box(0, 255, self._stack.shape, dtype=np.uint8)
        self.action_space = gym.spaces.Discrete(len(self._action_set))
        self._rng = np.random.default_rng()
        self._lives = 0
        self._total_frames = 0
        self._game_frames = 0
        self._game_return = 0.0
        self._game_steps = 0
        self._continue_game = False  # last episode ended on a life loss, not a game over

    # -- emulator helpers ---------------------------------------------------------------------
    def _act_frames(self, ale_action: int, n: int) -> float:
        """Run ``n`` frames of one action; the last two screens land in ``self._screens``."""
        reward = 0.0
        grabbed = 0
        for i in range(n):
            reward += self.ale.act(ale_action)
            self._total_frames += 1
            self._game_frames += 1
            if i >= n - 2:
                self.ale.getScreenGrayscale(self._screens[grabbed])
                grabbed += 1
            if self.ale.game_over():
                break
        if grabbed == 0:  # ended before the last two frames: pool the final screen with itself
            self.ale.getScreenGrayscale(self._screens[0])
            grabbed = 1
        if grabbed == 1:
            self._screens[1] = self._screens[0]
        return reward

    def _frame(self) -> np.ndarray:
        return self._resize(np.maximum(self._screens[0], self._screens[1]))

    def _push(self, frame: np.ndarray) -> np.ndarray:
        self._stack[:-1] = self._stack[1:]
        self._stack[-1] = frame
        return self._stack.copy()

    def _fill(self, frame: np.ndarray) -> np.ndarray:
        self._stack[:] = frame
        return self._stack.copy()

    def _info(self) -> dict[str, Any]:
        return {
            "lives": self._lives,
            "frames": self._total_frames,
            "episode_frame_number": self._game_frames,
            "game_over": False,
        }

    # -- gym API ------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            # seeds ALE (sticky actions) via the AtariEnv and our no-op RNG, independently
            self._rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
            self._continue_game = False
        if self._continue_game:
            # after a training-time life loss: keep playing the same game, as baselines'
            # EpisodicLifeEnv does (one no-op step to move past the life-loss frame)
            self._continue_game = False
            self._act_frames(self._action_set[0], self.frame_skip)
        else:
            self.env.reset(seed=seed, options=options)
            self._game_frames = 0
            self._game_return = 0.0
            self._game_steps = 0
            self.ale.getScreenGrayscale(self._screens[0])
            self._screens[1] = self._screens[0]
            if self.noop_max > 0:
                for _ in range(int(self._rng.integers(1, self.noop_max + 1))):
                    self._act_frames(self._action_set[0], 1)
                    if self.ale.game_over():
                        self.env.reset()
                        self._game_frames = 0
        if self._fire is not None:
            self._act_frames(self._action_set[self._fire], self.frame_skip)
            if self.ale.game_over():  # pathological; start over rather than return a dead state
                self.env.reset()
                self._game_frames = 0
        self._lives = self.ale.lives()
        return self._fill(self._frame()), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        raw = self._act_frames(self._action_set[action], self.frame_skip)
        self._game_return += raw
        self._game_steps += 1
        obs = self._push(self._frame())
        lives = self.ale.lives()
        life_lost = lives < self._lives
        self._lives = lives
        game_over = self.ale.game_over()
        truncated = not game_over and self.max_frames is not None and self._game_frames >= self.max_frames
        terminated = game_over
        if self.terminal_on_life_loss and life_lost and not game_over and not truncated:
            terminated = True
            self._continue_game = True
        info = self._info()
        info["raw_reward"] = raw
        if game_over or truncated:
            info["game_over"] = True
            info["game_return"] = self._game_return
            info["game_length"] = self._game_steps
        reward = float(np.sign(raw)) if self.clip_rewards else raw
        return obs, reward, terminated, truncated, info


def parse_game(id: str | None) -> tuple[str, str | None]:
    """``"Pong" | "ALE/Pong-v5" | "PongNoFrameskip-v4" | "pong"`` -> (rom name ``"pong"``, the
    protocol the id implies or ``None``)."""
    if not id:
        raise ConfigError("the atari plugin needs a game id, e.g. 'Pong' or 'ALE/Pong-v5'")
    name, implied = id, None
    if name.startswith("ALE/"):
        name = name[4:]
    m = re.fullmatch(r"(.+?)(NoFrameskip)?(-v\d+)?", name)
    assert m is not None
    name = m.group(1)
    if m.group(2):
        implied = "nature"
    elif m.group(3) == "-v5" or id.startswith("ALE/"):
        implied = "machado"
    rom = name if name.islower() else re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    import ale_py.roms

    roms = ale_py.roms.get_all_rom_ids()
    if rom not in roms:
        raise unknown("Atari game", id, [_camel(r) for r in roms])
    return rom, implied


def _camel(rom: str) -> str:
    return "".join(part.capitalize() for part in rom.split("_"))


class AtariPlugin(EnvPlugin):
    """Atari 2600 via ale-py with DQN-style preprocessing (84x84x4 uint8), Machado or Nature protocol."""

    provider = "ale-py"
    description = (
        "Atari 2600 (ale-py): ALE/<Game>-v5, <Game>NoFrameskip-v4 or <Game>; 4x84x84 uint8 frames; "
        "protocol=machado (sticky actions) | nature (no-op starts)"
    )

    def make(
        self,
        id: str | None,
        *,
        training: bool = True,
        render_mode: str | None = None,
        protocol: str | None = None,
        **kwargs: Any,
    ) -> gym.Env:
        """Build one preprocessed Atari env. Extra ``kwargs`` override protocol defaults:
        ``repeat_action_probability``, ``noop_max``, ``frame_skip``, ``frame_stack``,
        ``screen_size``, ``terminal_on_life_loss`` (default: ``training``), ``clip_rewards``
        (default: ``training``), ``fire_reset`` (True), ``max_frames`` (108000),
        ``full_action_space`` (False), ``mode``, ``difficulty``."""
        try:
            import ale_py
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ConfigError("Atari envs need ale-py: pip install 'rlsuite[atari]'") from e
        rom, protocol, opts = self.resolve(id, training, protocol, kwargs)
        base_keys = ("repeat_action_probability", "full_action_space", "mode", "difficulty")
        base = {k: opts.pop(k) for k in base_keys if k in opts}
        env = ale_py.env.AtariEnv(
            game=rom,
            obs_type="grayscale",
            frameskip=1,  # our wrapper skips frames (and max-pools), ALE applies stickiness per frame
            render_mode=cast(Any, render_mode),  # ale_py checks the mode
            **base,
        )
        try:
            wrapped = AtariPreprocessing(env, **opts)
        except TypeError as e:
            raise ConfigError(f"bad Atari kwargs {sorted(kwargs)}: {e}") from e
        wrapped.protocol = protocol  # type: ignore[attr-defined]  # read by rlsuite.eval.protocols
        return wrapped

    @staticmethod
    def resolve(id: str | None, training: bool, protocol: str | None,
                kwargs: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        """(rom, protocol, options): the protocol's defaults, the training/evaluation variant, then ``kwargs``."""
        rom, implied = parse_game(id)
        protocol = protocol or implied or "machado"
        if protocol not in PROTOCOLS:
            raise unknown("Atari protocol", protocol, PROTOCOLS)
        opts: dict[str, Any] = {
            **PROTOCOLS[protocol],
            "terminal_on_life_loss": training,
            "clip_rewards": training,
            **kwargs,
        }
        return rom, protocol, opts

    def backends(self) -> tuple[str, ...]:
        return BACKENDS

    def frames_per_step(self, id: str | None, *, protocol: str | None = None, **kwargs: Any) -> int:
        """The wrapper's ``frame_skip`` (the protocol's, else :class:`AtariPreprocessing`'s default 4)."""
        _, _, opts = self.resolve(id, True, protocol, kwargs)
        default = inspect.signature(AtariPreprocessing).parameters["frame_skip"].default
        return int(opts.get("frame_skip", default))

    def make_vec(
        self, id: str | None, n_envs: int, *, seed: int, training: bool = True, backend: str | None = None,
        protocol: str | None = None, **kwargs: Any
    ) -> gym.vector.VectorEnv | None:
        """``backend="envpool"``: EnvPool's C++ pool behind the loops' same-step autoreset contract
        (:mod:`rlsuite.envs.atari_envpool`). Otherwise ``None``: Gymnasium-style vector envs over
        :meth:`make` (ale-py's own ``AtariVectorEnv`` is not used: it autoresets on the next step
        and reports neither ``raw_reward`` nor ``game_return``)."""
        if backend in (None, "ale"):
            return None
        if backend not in BACKENDS:
            raise unknown("Atari backend", backend, BACKENDS)
        from rlsuite.envs.atari_envpool import EnvPoolAtariVectorEnv, envpool_options

        rom, _, opts = self.resolve(id, training, protocol, kwargs)
        return EnvPoolAtariVectorEnv(f"{_camel(rom)}-v5", n_envs, seed=seed, options=envpool_options(opts))

    def ids(self) -> list[str]:
        return [f"ALE/{g}-v5" for g in COMMON_GAMES] + [f"{g}NoFrameskip-v4" for g in COMMON_GAMES]
