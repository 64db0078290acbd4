"""EnvPool (``pip install 'rlsuite[envpool]'``) as the Atari plugin's vector backend: ``env.backend=envpool``.

EnvPool steps a whole batch of ALE emulators in C++ threads and does the same preprocessing as
:class:`rlsuite.envs.atari.AtariPreprocessing` (frame skip 4 with a max-pool of the last two frames,
ALE's grayscale palette, area-interpolated 84x84 resize, 4-frame stack, FIRE at reset, life loss as
terminal and reward clipping in training). :class:`EnvPoolAtariVectorEnv` makes it keep the contract
both loop families rely on:

* **Same-step autoreset.** EnvPool resets an env on the step *after* its episode ended (the action
  of that step is ignored, the reward is 0, the observation is the reset one). Handed to the loops
  as it is, that step would be a transition from the final observation to the reset observation,
  i.e. across the episode boundary. Here the reset step is taken at once, for the ended envs only
  (``step(..., env_id=ended)``, EnvPool's partial step), inside the same :meth:`step` call: the
  caller gets the reset observation in ``obs`` and the true final observation in
  ``info["final_obs"]``, exactly like Gymnasium's same-step autoreset, and never sees the
  boundary step. After a life loss EnvPool continues the same game (as our ale-py wrapper does).
* **Episode starts.** EnvPool keeps its frame stack across a life-loss continuation; ours (and the
  replay buffer's frame store, which rebuilds stacks padded with an episode's first frame) starts
  every episode with ``k`` copies of its first frame, so the reset observation is filled that way
  and, for the next ``k − 1`` steps, the frames from before the episode start are replaced by its
  first frame: every stack holds frames of one episode only.
* **Raw scores.** ``info["raw_reward"]`` is the unclipped reward of the step (EnvPool's
  ``info["reward"]``), ``info["game_over"]`` marks the real end of a game (game over or the
  108k-frame cap), and on that step ``final_info`` carries ``game_return`` (unclipped score over
  all lives) and ``game_length`` (agent steps), as the ale-py path reports them.

Protocol settings map one to one (``repeat_action_probability``, ``frame_skip``, ``frame_stack``,
``terminal_on_life_loss`` → ``episodic_life``, ``clip_rewards`` → ``reward_clip``, ``fire_reset``,
``full_action_space``, ``max_frames`` → ``max_episode_steps`` in agent steps) with two documented
differences in how a game starts: EnvPool draws ``U{0..noop_max−1} + 1`` no-op frames (one fewer
in games with FIRE) where ours draws ``U{1..noop_max}`` (``noop_max=0``, Machado, becomes EnvPool's
minimum 1: no no-op in FIRE games, one no-op frame otherwise), and EnvPool presses FIRE for one
frame where ours holds it for a whole agent step. Seeds: EnvPool fixes them when the pool is built,
so ``reset(seed=...)`` builds a new pool (env ``i`` gets ``seed + i``).

What agrees and what does not, same seed and actions (``tests/test_atari_envpool.py``):

* **Evaluation settings** (``training=False``, ``noop_max=1``, ``fire_reset=False``, no sticky
  actions): Pong bit for bit, Breakout and Space Invaders within 1 gray level on < 0.2 % of pixels
  (OpenCV's fixed-point ``INTER_AREA`` against our float32 area weights), same raw rewards.
* **Training settings, up to the first life loss**: the same, plus the same clipped rewards, and both
  end the episode on the step that loses the life and continue the same game (lives kept).
* **After a life loss** the two continue differently, and the trajectories part: ours takes one
  no-op *agent step* (``frame_skip`` frames, as baselines' ``EpisodicLifeEnv``) and then holds FIRE
  for a step; EnvPool's reset runs its game start on the continuing game (``noop`` single no-op
  frames, then FIRE for one frame). Breakout's first frame after the life loss is then ~110 gray
  levels apart. Not aligned: EnvPool's continuation is fixed in its C++ env (only ``noop_max`` and
  ``use_fire_reset`` reach it, and neither gives a 4-frame no-op), and changing ours would change the
  ale-py training dynamics that the learning results rest on.
* **Game start** (every reset, Machado's ``noop_max=0`` with FIRE): ours holds FIRE for 4 frames,
  EnvPool spends its minimum of one no-op on a single FIRE frame, so the first observation is another
  emulator frame (Pong: background gray 87 in ours against 107); with ``noop_max=1`` and
  ``fire_reset=False`` on both the reset frames are identical.
* **Sticky actions** (``repeat_action_probability > 0``, Machado): each backend draws the repeats
  from its own generator (ALE's, seeded per env by each), so with sticky actions the runs agree only
  in distribution, never step for step.

So results from the two backends are comparable as protocols (same preprocessing, same scores, same
caps), not as identical trajectories; report which backend trained a run (``env.backend``). A policy
does not carry over between them: the game starts above shift the frame-skip phase, and a PPO policy
that won its EnvPool games of Pong 17-12 lost 8-27 on the ale-py env. So a run trained here is
evaluated here too (``EnvSpec.make`` gives one EnvPool env wrapped as a Gymnasium env,
:class:`rlsuite.vector.SingleEnvView`); only a video (``record=``) is played on the ale-py env.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from rlsuite.errors import ConfigError

# our AtariPreprocessing / AtariEnv option -> EnvPool's name for it
OPTION_NAMES = {
    "repeat_action_probability": "repeat_action_probability",
    "frame_skip": "frame_skip",
    "frame_stack": "stack_num",
    "terminal_on_life_loss": "episodic_life",
    "clip_rewards": "reward_clip",
    "fire_reset": "use_fire_reset",
    "full_action_space": "full_action_space",
    "mode": "mode",
    "difficulty": "difficulty",
}


def envpool_options(opts: dict[str, Any]) -> dict[str, Any]:
    """Our plugin's resolved options (protocol defaults + kwargs) in EnvPool's names."""
    opts = dict(opts)
    screen = int(opts.pop("screen_size", 84))
    out: dict[str, Any] = {"img_height": screen, "img_width": screen, "gray_scale": True,
                           "use_inter_area_resize": True}
    out["noop_max"] = max(int(opts.pop("noop_max", 30)), 1)
    max_frames = opts.pop("max_frames", 108_000)
    frame_skip = int(opts.get("frame_skip", 4))
    if max_frames is not None:
        out["max_episode_steps"] = max(int(max_frames) // frame_skip, 1)
    for ours, theirs in OPTION_NAMES.items():
        if ours in opts:
            out[theirs] = opts.pop(ours)
    if opts:
        raise ConfigError(f"the envpool backend does not take {sorted(opts)}; accepted: "
                          f"{', '.join(sorted([*OPTION_NAMES, 'noop_max', 'max_frames', 'screen_size']))}")
    return out


class EnvPoolAtariVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` EnvPool Atari emulators behind Gymnasium's vector API with same-step autoreset
    (see the module docstring)."""

    def __init__(self, task: str, num_envs: int, *, seed: int, options: dict[str, Any]):
        try:
            import envpool
        except ImportError as err:
            raise ConfigError("env.backend=envpool needs EnvPool: pip install 'rlsuite[envpool]'") from err
        self._envpool, self.task, self.options = envpool, task, options
        self.num_envs = int(num_envs)
        self._seed = int(seed)
        self.pool = self._build(self._seed)
        self._stepped = False
        shape = self.pool.observation_space.shape
        self.frame_stack = int(shape[0])
        self.single_observation_space = gym.spaces.Box(0, 255, shape, dtype=np.uint8)
        self.single_action_space = gym.spaces.Discrete(int(self.pool.action_space.n))
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
        self.render_mode = None
        self._game_returns = np.zeros(self.num_envs, np.float64)
        self._game_lengths = np.zeros(self.num_envs, np.int64)
        self._all = np.ones(self.num_envs, dtype=bool)
        self._episode_frames = np.full(self.num_envs, self.frame_stack)  # this episode's frames in the stack

    def _build(self, seed: int) -> Any:
        # EnvPool takes int32 seeds (env i gets seed + i); our derived seeds span 2^32
        seed %= 2**31 - 1 - self.num_envs
        return self._envpool.make(self.task, env_type="gymnasium", num_envs=self.num_envs,
                                  batch_size=self.num_envs, seed=seed, **self.options)

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            first = int(seed[0]) if isinstance(seed, Sequence) else int(seed)
            if isinstance(seed, Sequence) and list(seed) != [first + i for i in range(self.num_envs)]:
                raise ConfigError("EnvPool seeds env i with seed + i; pass one seed or consecutive seeds")
            if first != self._seed or self._stepped:  # EnvPool's seeds are fixed when the pool is built
                self.pool.close()
                self.pool, self._seed = self._build(first), first
        obs, info = self.pool.reset()
        obs = np.array(obs, copy=True)
        self._episode_frames[:] = self.frame_stack
        self._stepped = False
        self._game_returns[:] = 0.0
        self._game_lengths[:] = 0
        return obs, {"lives": info["lives"], "_lives": self._all.copy()}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        self._stepped = True
        obs, rewards, terminated, truncated, info = self.pool.step(np.asarray(actions, dtype=np.int32))
        obs = np.array(obs, copy=True)  # EnvPool may hand out its own state buffer, which the next call rewrites
        self._pad_episode_start(obs)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        raw = np.asarray(info["reward"], np.float64)
        game_over = np.asarray(info["terminated"], bool) | truncated
        self._game_returns += raw
        self._game_lengths += 1
        infos: dict[str, Any] = {"raw_reward": raw, "_raw_reward": self._all.copy(),
                                 "lives": info["lives"], "_lives": self._all.copy(),
                                 "game_over": game_over, "_game_over": self._all.copy()}
        ended = terminated | truncated
        if ended.any():
            obs = self._autoreset(obs, np.flatnonzero(ended), raw, game_over, info, infos)
        return obs, np.asarray(rewards, np.float64), terminated, truncated, infos

    def _pad_episode_start(self, obs: np.ndarray) -> None:
        """Frames older than the episode's first one (left in EnvPool's stack after a life loss)
        become copies of that first frame, as in a stack that started with the episode."""
        self._episode_frames = np.minimum(self._episode_frames + 1, self.frame_stack)
        for i in np.flatnonzero(self._episode_frames < self.frame_stack):
            first = self.frame_stack - self._episode_frames[i]
            obs[i, :first] = obs[i, first]

    def _autoreset(self, obs: np.ndarray, ids: np.ndarray, raw: np.ndarray, game_over: np.ndarray,
                   info: dict[str, Any], infos: dict[str, Any]) -> np.ndarray:
        """Take EnvPool's reset step for the envs ``ids`` now; put their final observations and step
        infos in ``infos`` and their reset observations (stack filled with the first frame) in ``obs``."""
        final_obs = np.empty(self.num_envs, dtype=object)
        final_info = np.empty(self.num_envs, dtype=object)
        for i in ids:
            final_obs[i] = obs[i].copy()
            step_info = {"raw_reward": float(raw[i]), "lives": int(info["lives"][i]), "game_over": bool(game_over[i])}
            if game_over[i]:
                step_info["game_return"] = float(self._game_returns[i])
                step_info["game_length"] = int(self._game_lengths[i])
                self._game_returns[i] = 0.0
                self._game_lengths[i] = 0
            final_info[i] = step_info
        # the action is ignored by EnvPool on a reset step; env_id restricts the call to these envs
        reset_obs, *_, reset_info = self.pool.step(np.zeros(len(ids), np.int32), ids.astype(np.int32))
        order = np.asarray(reset_info["env_id"])
        obs[order] = np.repeat(np.asarray(reset_obs)[:, -1:], self.frame_stack, axis=1)
        self._episode_frames[order] = 1
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[ids] = True
        infos.update(final_obs=final_obs, _final_obs=mask, final_info=final_info, _final_info=mask.copy())
        return obs

    def close_extras(self, **kwargs: Any) -> None:
        self.pool.close()
