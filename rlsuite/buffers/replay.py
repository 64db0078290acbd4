"""Uniform replay buffer (circular, N envs, n-step at sample time, optional lean frame storage)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from rlsuite.cost import check_fits

from .kernels import (
    ACTION_SHIFT,
    FIRST,
    NO_TRANSITION,
    PACKED_ACTIONS,
    TERM,
    TRUNC,
    add_kernel,
    sample_uniform_1step_kernel,
    sample_uniform_kernel,
)

FLAGS_LAYOUT = 2  # the packed flags byte of rlsuite.buffers.kernels; 1: TERM|TRUNC|FIRST|VALID bits, actions apart

_MAX_RETRIES = 1000


class ReplayBatch(NamedTuple):
    """A sampled batch; numpy arrays (or torch tensors after :func:`to_torch`), leading dim = batch.

    ``rewards`` is the n-step discounted sum ``r_t + γ r_{t+1} + ...`` stopped at the episode end,
    ``next_obs`` the state to bootstrap from (``s_{t+k}``, or the final observation when the window
    ended the episode), ``discounts`` = ``γ^k`` (0 when the window hit a termination), ``indices``
    the int64 slots for ``update_priorities`` and ``weights`` the float32 importance weights.
    """

    obs: Any
    actions: Any
    rewards: Any
    next_obs: Any
    discounts: Any
    indices: Any
    weights: Any


def _as_dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype)


class ReplayBuffer:
    """Circular uniform replay over ``n_envs`` parallel envs; hot paths in Numba.

    Parameters
    ----------
    capacity: total transitions over all envs; each env gets one segment of ``capacity // n_envs``
        slots.  One slot per env is the pending next observation and one extra slot per finished
        episode holds its final observation, so slightly fewer than ``capacity`` transitions are
        sampleable once full.
    obs_shape, obs_dtype: observation shape and dtype, stored as given (uint8 images stay uint8).
    frame_stack: ``k > 1`` turns on Atari frame storage: ``obs_shape == (k, H, W)`` and only the
        newest ``H×W`` frame of every observation is stored; stacks for ``obs`` and ``next_obs``
        are rebuilt at sample time, padded with the episode's first frame.  The first observation
        of an episode is assumed to be ``k`` copies of the reset frame (gymnasium's
        ``FrameStackObservation`` default), and likewise the first observation ever added per env.
    n_step, gamma: returns are computed at sample time over up to ``n_step`` rewards of one env,
        stopping at a termination (discount 0) or truncation (discount ``γ^k``, bootstrap from the
        final observation).  Transitions whose window is not complete yet are not sampled.
    action_storage_dtype: dtype used to *store* actions (e.g. uint8 for ``Discrete(18)``);
        sampled actions are returned as ``action_dtype``.
    n_actions: the number of discrete actions, if any; up to 32 they are packed into the spare
        bits of the flags byte (no action column: an Atari transition costs 84·84 + 5 bytes).
    pin_memory: allocate sampled batches in pinned (page-locked) host memory, so :func:`to_torch`
        can start a non-blocking host→GPU copy without an extra staging copy.

    Deviation from SB3: the newest transition of each env becomes sampleable only once its n-step
    window is complete (immediately for ``n_step == 1``); the oldest slot's stack is checked so
    it never reads a frame that the write cursor has overwritten (as in Dopamine).
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype: Any = np.float32,
                 action_shape: tuple[int, ...] = (), action_dtype: Any = np.int64, *, n_envs: int = 1,
                 n_step: int = 1, gamma: float = 0.99, frame_stack: int = 1, seed: int = 0,
                 action_storage_dtype: Any = None, n_actions: int | None = None,
                 pin_memory: bool = False) -> None:
        obs_shape = tuple(int(s) for s in obs_shape)
        action_shape = tuple(int(s) for s in action_shape)
        if n_envs < 1 or n_step < 1 or frame_stack < 1:
            raise ValueError("n_envs, n_step and frame_stack must be >= 1")
        seg = int(capacity) // int(n_envs)
        if seg < frame_stack + n_step + 2:
            raise ValueError(f"capacity {capacity} too small for {n_envs} envs, n_step={n_step}, "
                             f"frame_stack={frame_stack}")
        if frame_stack > 1:
            if len(obs_shape) < 2 or obs_shape[0] != frame_stack:
                raise ValueError(f"frame_stack={frame_stack} needs obs_shape (k, H, W), got {obs_shape}")
            frame_shape = obs_shape[1:]
        else:
            frame_shape = obs_shape
        self.capacity = seg * n_envs
        self.segment = seg
        self.obs_shape = obs_shape
        self.frame_shape = frame_shape
        self.obs_dtype = _as_dtype(obs_dtype)
        self.action_shape = action_shape
        self.action_dtype = _as_dtype(action_dtype)
        self.action_storage_dtype = _as_dtype(action_storage_dtype or action_dtype)
        self.n_envs = int(n_envs)
        self.n_step = int(n_step)
        self.gamma = float(gamma)
        self.frame_stack = int(frame_stack)
        self.pin_memory = bool(pin_memory)
        self._frame_dim = int(np.prod(frame_shape)) if frame_shape else 1
        self._act_dim = int(np.prod(action_shape)) if action_shape else 1
        self.packed_actions = not action_shape and n_actions is not None and 0 < n_actions <= PACKED_ACTIONS
        if self.packed_actions:
            self.action_storage_dtype = np.dtype(np.uint8)
        total = self.capacity
        # Refuse now, with one clear line, a store that would only fail once its pages are written.
        check_fits("a replay buffer", self.storage_bytes(total), per_item=self.storage_bytes(1), items=total,
                   key="agent.buffer_size", unit="transitions")
        self._obs = np.zeros((total, self._frame_dim), self.obs_dtype)
        # packed actions live in the flags byte: the action store then has no columns
        self._act = np.zeros((total, 0 if self.packed_actions else self._act_dim), self.action_storage_dtype)
        self._rew = np.zeros(total, np.float32)
        self._flags = np.full(total, NO_TRANSITION, np.uint8)
        self._pos = np.zeros(n_envs, np.int64)
        self._size = np.zeros(n_envs, np.int64)
        self._new_ep = np.ones(n_envs, np.uint8)
        self._n_valid = np.zeros(n_envs, np.int64)
        self._gpow = self.gamma ** np.arange(self.n_step + 1, dtype=np.float64)
        self._written = np.zeros(n_envs, np.int64)
        self._pending = np.zeros(n_envs, np.int64)
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ storage
    def __len__(self) -> int:
        """Transitions stored (including ones whose n-step window is still incomplete)."""
        return int(self._n_valid.sum())

    def storage_bytes(self, capacity: int) -> int:
        """Bytes the storage arrays take for ``capacity`` slots (what :attr:`nbytes` will be)."""
        act_bytes = 0 if self.packed_actions else self._act_dim * self.action_storage_dtype.itemsize
        return int(capacity) * (self._frame_dim * self.obs_dtype.itemsize + act_bytes + 4 + 1)

    @property
    def nbytes(self) -> int:
        """Bytes of the preallocated storage arrays."""
        return int(self._obs.nbytes + self._act.nbytes + self._rew.nbytes + self._flags.nbytes)

    def _frames(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        n = self.n_envs
        if x.shape != (n, *self.obs_shape):
            raise ValueError(f"expected observations of shape {(n, *self.obs_shape)}, got {x.shape}")
        if self.frame_stack > 1:
            x = x[:, -1]
        return np.ascontiguousarray(x, dtype=self.obs_dtype).reshape(n, self._frame_dim)

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, truncated: np.ndarray) -> np.ndarray:
        """Add one step of ``n_envs`` envs (every argument has leading dim ``n_envs``).

        ``next_obs`` is the TRUE next observation (the final one when an episode ended, not the
        reset observation).  Returns the int64 slots written (one per env)."""
        n = self.n_envs
        acts = np.ascontiguousarray(actions, dtype=self.action_storage_dtype).reshape(n, self._act_dim)
        rews = np.ascontiguousarray(rewards, dtype=np.float32).reshape(n)
        term = np.ascontiguousarray(terminated, dtype=np.bool_).reshape(n)
        trunc = np.ascontiguousarray(truncated, dtype=np.bool_).reshape(n)
        add_kernel(self.segment, self._pos, self._size, self._new_ep, self._n_valid, self._obs, self._act,
                   self._rew, self._flags, self._frames(obs), self._frames(next_obs), acts, rews, term,
                   trunc, self._written, self._pending)
        self._after_add(self._written, self._pending)
        return self._written.copy()

    def _after_add(self, written: np.ndarray, pending: np.ndarray) -> None:
        pass

    # ------------------------------------------------------------------ sampling
    def _empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        if self.pin_memory:
            import torch

            return torch.empty(shape, dtype=torch.from_numpy(np.zeros(0, dtype)).dtype,
                               pin_memory=True).numpy()
        return np.empty(shape, dtype)

    def _outputs(self, batch_size: int) -> tuple[np.ndarray, ...]:
        k = self.frame_stack
        o_obs = self._empty((batch_size, k, self._frame_dim), self.obs_dtype)
        o_next = self._empty((batch_size, k, self._frame_dim), self.obs_dtype)
        o_act = self._empty((batch_size, self._act_dim), self.action_dtype)
        o_rew = self._empty((batch_size,), np.float32)
        o_disc = self._empty((batch_size,), np.float32)
        return o_obs, o_next, o_act, o_rew, o_disc

    def _batch(self, outs: tuple[np.ndarray, ...], idx: np.ndarray, weights: np.ndarray) -> ReplayBatch:
        o_obs, o_next, o_act, o_rew, o_disc = outs
        b = idx.shape[0]
        return ReplayBatch(o_obs.reshape(b, *self.obs_shape), o_act.reshape(b, *self.action_shape), o_rew,
                           o_next.reshape(b, *self.obs_shape), o_disc, idx, weights)

    def _check_nonempty(self) -> None:
        if self._n_valid.sum() == 0:
            raise ValueError("cannot sample from an empty replay buffer")

    def sample(self, batch_size: int) -> ReplayBatch:
        """Uniform sample over sampleable transitions (draws from ``self.rng`` only).

        Every call returns freshly allocated arrays, so a batch stays valid after later calls
        (allocation is a few hundred ns; the random gathers from storage dominate).  With
        ``n_step == 1`` and ``frame_stack == 1`` a fast kernel skips the n-step/stack window walk
        and gives the same draws and values bit for bit."""
        outs = self._outputs(batch_size)
        idx = np.empty(batch_size, np.int64)
        ok = np.zeros(batch_size, np.bool_)
        one_step = self.n_step == 1 and self.frame_stack == 1
        for _ in range(_MAX_RETRIES):
            if one_step:  # same draws and values as the general kernel, without the window walk
                missing = sample_uniform_1step_kernel(self.rng.random(batch_size), ok, idx, self.segment,
                                                      self._gpow[1], self._pos, self._size, self._obs,
                                                      self._act, self._rew, self._flags, *outs)
            else:
                missing = sample_uniform_kernel(self.rng.random(batch_size), ok, idx, self.segment,
                                                self.frame_stack, self.n_step, self._pos, self._size, self._obs,
                                                self._act, self._rew, self._flags, self._gpow, *outs)
            if missing == 0:
                weights = np.ones(batch_size, np.float32)
                return self._batch(outs, idx, weights)
            self._check_nonempty()
        raise ValueError("no sampleable transitions yet (n-step windows or frame stacks incomplete)")

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict[str, Any]:
        """Contents, cursors and the sampling RNG state.  Arrays are returned without copying."""
        return {
            "config": {"capacity": self.capacity, "n_envs": self.n_envs, "n_step": self.n_step,
                       "gamma": self.gamma, "frame_stack": self.frame_stack,
                       "obs_shape": list(self.obs_shape), "obs_dtype": self.obs_dtype.str,
                       "action_shape": list(self.action_shape), "action_dtype": self.action_dtype.str},
            "obs": self._obs, "actions": self._act, "rewards": self._rew, "flags": self._flags,
            "pos": self._pos, "size": self._size, "new_ep": self._new_ep, "n_valid": self._n_valid,
            "rng": self.rng.bit_generator.state, "flags_layout": FLAGS_LAYOUT,
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        cfg = d["config"]
        mine = self.state_dict()["config"]
        for key in ("capacity", "n_envs", "frame_stack", "obs_shape", "obs_dtype", "action_shape"):
            if list(np.atleast_1d(cfg[key])) != list(np.atleast_1d(mine[key])):
                raise ValueError(f"replay buffer state has {key}={cfg[key]}, this buffer {mine[key]}")
        self._obs[...] = d["obs"]
        self._rew[...] = d["rewards"]
        if int(d.get("flags_layout", 1)) == FLAGS_LAYOUT:
            self._act[...] = d["actions"]
            self._flags[...] = d["flags"]
        else:  # a checkpoint from before the packed flags byte
            self._flags[...] = unpacked_to_packed_flags(np.asarray(d["flags"]))
            actions = np.asarray(d["actions"])
            if self.packed_actions:
                self._flags |= actions[:, 0].astype(np.uint8) << ACTION_SHIFT
            else:
                self._act[...] = actions
        self._pos[...] = d["pos"]
        self._size[...] = d["size"]
        self._new_ep[...] = d["new_ep"]
        self._n_valid[...] = d["n_valid"]
        self.rng.bit_generator.state = d["rng"]


def unpacked_to_packed_flags(old: np.ndarray) -> np.ndarray:
    """Flags of layout 1 (bits TERM 1, TRUNC 2, FIRST 4, VALID 8) in today's layout, without actions."""
    kind = np.where(old & 1, TERM, np.where(old & 2, TRUNC, 0))
    new = np.where(old & 8, kind | np.where(old & 4, FIRST, 0), NO_TRANSITION)
    return new.astype(np.uint8)


def to_torch(batch: ReplayBatch, device: Any = "cpu") -> ReplayBatch:
    """The same NamedTuple with torch tensors.

    CPU: ``torch.from_numpy`` (no copy, shares memory with the numpy batch).  CUDA: pins the host
    array if it is not pinned already (buffers built with ``pin_memory=True`` sample straight into
    pinned memory) and copies with ``non_blocking=True``."""
    import torch

    dev = torch.device(device)
    if dev.type == "cpu":
        return ReplayBatch(*map(torch.from_numpy, batch))
    out = []
    for x in batch:
        t = torch.from_numpy(np.ascontiguousarray(x))
        if dev.type == "cuda" and not t.is_pinned():
            t = t.pin_memory()
        out.append(t.to(dev, non_blocking=True))
    return ReplayBatch(*out)
