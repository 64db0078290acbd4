"""A3C's algorithm, independent of where θ lives: the config, the n-step targets, the loss, the
network and :class:`SegmentLearner` (one worker's envs and θ': up to ``t_max`` steps, then the
clipped gradient of the loss in θ'.grad). The Hogwild processes (:mod:`.hogwild`) and the Ray
parameter server (:mod:`.ray_backend`) differ only in where θ comes from and where g goes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlsuite.agent import AgentConfig
from rlsuite.buffers import gae
from rlsuite.config import NetConfig
from rlsuite.constraints import at_least_one, finite, non_negative, one_of, positive, probability, section
from rlsuite.errors import RLSuiteError
from rlsuite.losses import actor_critic_loss
from rlsuite.nonfinite import NonFiniteWatch, check_env_step
from rlsuite.offpolicy import EpisodeTracker, true_next_obs
from rlsuite.policies import ActorCritic


class WorkerError(RLSuiteError, RuntimeError):
    """An A3C worker raised or died; the message names the worker and its error."""


@dataclass
class A3CConfig(AgentConfig):
    lr: float = field(default=7e-4, metadata=positive)
    # asynchronous actor-learners: worker processes (hogwild) or Ray gradient workers (ray), n_envs envs each
    n_workers: int = field(default=2, metadata=at_least_one)
    t_max: int = field(default=5, metadata=at_least_one)  # steps per worker between updates (Atari: 20)
    ent_coef: float = field(default=0.01, metadata=finite)
    vf_coef: float = field(default=0.5, metadata=non_negative)
    max_grad_norm: float | None = field(default=40.0, metadata=positive)  # None: no clipping
    gae_lambda: float = field(default=1.0, metadata=probability)  # 1.0: the paper's n-step returns
    # rmsprop: shared statistics; adam: shared moments
    optimizer: str = field(default="rmsprop", metadata=one_of("rmsprop", "adam"))
    rms_alpha: float = field(default=0.99, metadata=probability)  # RMSProp's smoothing constant
    optimizer_eps: float = field(default=1e-5, metadata=positive)  # RMSProp's / Adam's ε
    anneal_lr: bool = True  # linear to 0 over the budget, as in the paper
    # auto: fork where available, else spawn
    start_method: str = field(default="auto", metadata=one_of("auto", "fork", "spawn", "forkserver"))
    # updates between a worker's loss reports (averaged over them)
    log_interval: int = field(default=20, metadata=at_least_one)
    # hogwild: worker processes on this machine; ray: a parameter-server actor and gradient workers on
    # Ray, on one machine or a cluster (rlsuite.agents.a3c.ray_backend; pip install "rlsuite[ray]")
    backend: str = field(default="hogwild", metadata=one_of("hogwild", "ray"))
    # ray backend: the oldest weights an applied gradient may come from, in updates (0: n_workers)
    max_staleness: int = field(default=0, metadata=non_negative)
    # net.widths None: ActorCritic's default ([64, 64] for vectors, [] on a CNN); net.shared None: a
    # shared CNN for images (as the paper), separate MLPs for vectors
    net: NetConfig = field(default_factory=NetConfig, metadata=section(NetConfig))

    net_keys: ClassVar[tuple[str, ...]] = ("widths", "activation", "shared")


# ---------------------------------------------------------------------------- the mathematics
def make_optimizer(model: nn.Module, cfg: A3CConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=cfg.lr, alpha=cfg.rms_alpha, eps=cfg.optimizer_eps)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=cfg.optimizer_eps)  # adam (the config's choices)


def n_step_targets(rewards: np.ndarray, values: np.ndarray, last_values: np.ndarray, terminated: np.ndarray,
                   truncated: np.ndarray, final_values: np.ndarray, gamma: float,
                   lam: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and returns of a ``(T, N)`` rollout segment.

    ``R`` bootstraps from ``last_values`` = V(s_T) at the end of the segment, restarts at episode
    ends (0 after a termination, ``final_values`` = V(final obs) after a truncation), and
    ``R_t = r_t + γ R_{t+1}``; with ``lam = 1`` the advantages are ``R_t − V(s_t)`` (the paper's
    n-step estimate), otherwise GAE(λ).
    """
    next_values = np.empty_like(values)
    next_values[:-1] = values[1:]
    next_values[-1] = last_values
    cut = truncated & ~terminated
    next_values[cut] = final_values[cut]
    return gae(rewards, values, next_values, terminated, terminated | truncated, gamma, lam)


def build_policy(observation_space: gym.Space, action_space: gym.Space, cfg: A3CConfig) -> ActorCritic:
    net = cfg.net
    return ActorCritic(observation_space, action_space, net_arch=net.widths, activation=net.activation,
                       shared=net.shared)


# ---------------------------------------------------------------------------- one actor-learner step
class SegmentLearner:
    """A worker's envs and local network θ': :meth:`gradient` runs up to ``t_max`` steps and leaves the
    clipped gradient of the A3C loss in θ'.grad. Shared by the Hogwild workers and the Ray backend
    (:mod:`.ray_backend`), which differ only in where θ comes from and where g goes."""

    def __init__(self, local: ActorCritic, envs: gym.vector.VectorEnv, obs: np.ndarray, cfg: A3CConfig,
                 report: Callable[[tuple], None], worker_id: int):
        self.local, self.envs, self.obs, self.cfg = local, envs, obs, cfg
        self.report, self.worker_id = report, worker_id
        T, N = cfg.t_max, cfg.n_envs
        self.obs_buf = np.zeros((T, *obs.shape), dtype=obs.dtype)
        self.action_buf = np.zeros((T, N, *local.action_shape), dtype=local.action_dtype)
        self.rewards = np.zeros((T, N), np.float32)
        self.values = np.zeros((T, N), np.float32)
        self.final_values = np.zeros((T, N), np.float32)
        self.terminated = np.zeros((T, N), bool)
        self.truncated = np.zeros((T, N), bool)
        self.tracker = EpisodeTracker(N)
        self.params = list(local.parameters())
        self.watch = NonFiniteWatch()
        self.check_finite = True
        self.steps_taken = 0  # env steps of the last gradient (t × n_envs)

    def gradient(self, claim: Callable[[int], bool], global_steps: Callable[[], int]) -> dict[str, float] | None:
        """Collect while ``claim(n_envs)`` grants steps (at most ``t_max``), then backpropagate the loss.
        Returns the loss statistics, or None when no step was granted."""
        cfg, local, wid = self.cfg, self.local, self.worker_id
        T, N = cfg.t_max, cfg.n_envs
        obs = self.obs
        t = 0
        while t < T and claim(N):
            with torch.no_grad():
                action_tensor, _, v = local.act(torch.as_tensor(obs))
            actions = action_tensor.numpy()
            next_obs, r, term, trunc, infos = self.envs.step(local.env_actions(actions))
            if self.check_finite:
                check_env_step(next_obs, np.asarray(r, np.float32), global_steps())
            self.obs_buf[t], self.action_buf[t], self.rewards[t], self.values[t] = obs, actions, r, v.numpy()
            self.terminated[t], self.truncated[t] = term, trunc
            cut = np.asarray(trunc, bool) & ~np.asarray(term, bool)
            if cut.any():  # bootstrap a time-limit truncation from V(final obs)
                with torch.no_grad():
                    self.final_values[t] = local.value(torch.as_tensor(true_next_obs(next_obs, infos))).numpy()
            for episode_return, length in self.tracker.update(self.rewards[t], term | trunc, infos):
                self.report(("episode", wid, episode_return, length))
            obs = next_obs
            t += 1
        self.obs = obs
        self.steps_taken = t * N
        if t == 0:
            return None
        with torch.no_grad():
            last_values = local.value(torch.as_tensor(obs)).numpy()
        advantages, returns = n_step_targets(self.rewards[:t], self.values[:t], last_values, self.terminated[:t],
                                             self.truncated[:t], self.final_values[:t], cfg.gamma, cfg.gae_lambda)
        log_probs, entropy, v = local.evaluate_actions(
            torch.as_tensor(self.obs_buf[:t].reshape(t * N, *obs.shape[1:])),
            torch.as_tensor(self.action_buf[:t].reshape(t * N, *local.action_shape)))
        loss = actor_critic_loss(log_probs, entropy, v, torch.as_tensor(advantages.reshape(-1)),
                                 torch.as_tensor(returns.reshape(-1)), cfg.ent_coef, cfg.vf_coef)
        for p in self.params:
            p.grad = None
        loss.total.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.params, math.inf if cfg.max_grad_norm is None else cfg.max_grad_norm)
        if self.check_finite:  # a bad gradient never leaves the worker
            self.watch.add("loss", loss.total)
            self.watch.add("grad norm", grad_norm)
            self.watch.check(global_steps())
        return {"loss/policy": loss.policy.item(), "loss/value": loss.value.item(), "loss/entropy": loss.entropy.item()}
