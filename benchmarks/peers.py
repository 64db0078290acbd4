"""Peer libraries of the side-by-side benchmarks: one adapter per (library, algorithm).

Every adapter takes the recipe in rlsuite's key names (the same dict ``rlsuite.make_agent`` gets),
builds the peer's own agent from it, trains it and hands back a greedy ``act(obs) -> action`` plus
the seconds spent building and in the peer's learn call, so ``offpolicy.py`` and ``onpolicy.py``
time every library alike. A peer that is not installed, or that cannot run here, is *skipped* with
its reason (``skip_reason``), never an error: the peers are an optional extra (``pip install
.[peers]``) and the benchmarks run with any subset of them.

Peers and what each one runs (``ALGORITHMS``):

- ``sb3``: Stable-Baselines3 (torch): PPO, DQN, TD3, DDPG, SAC.
- ``sbx``: SBX, the JAX port of SB3 (``sbx-rl``): PPO, DQN, TD3, SAC. JAX compiles each update on its
  first call; that compile time is inside the first model's learn wall (what a user sees), while a
  second model in the same process reuses the compiled functions.
- ``tianshou``: Tianshou 2 (torch), its algorithm / collector / trainer API: PPO, DQN, TD3, SAC and
  discrete SAC.
- ``torchrl``: TorchRL (torch + tensordict): PPO and DQN (discrete actions), written from its
  components (collector, loss modules, GAE, replay buffer, target updater) as its tutorials do, since
  TorchRL has no one-call ``learn``.
- ``cleanrl``: the ``cleanrl`` distribution on PyPI is 0.4.8 of 2021: its algorithms are top-level
  scripts (nothing to import; importing one runs it) written against gym < 0.22 (``from gym.wrappers
  import Monitor``) and the 4-tuple ``step`` API, so it cannot run beside gymnasium 1.x; recorded as
  skipped with that reason.

JAX runs on one thread (``XLA_FLAGS`` below, set before JAX is imported), like torch's
``set_num_threads(1)`` in the scripts.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import io
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("RL_WARNINGS", "False")  # TorchRL: budget not a multiple of the collector's batch

Act = Callable[[np.ndarray], Any]


@dataclass(frozen=True)
class Peer:
    """A peer library: its import name, its distribution (for the version) and, where it cannot run
    even when installed, why."""

    name: str
    label: str
    module: str
    dist: str
    unusable: str | None = None

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def version(self) -> str | None:
        try:
            return importlib.metadata.version(self.dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    def skip_reason(self, algo: str) -> str | None:
        """None when this peer runs ``algo`` here, else the reason it is skipped."""
        if self.unusable:  # a property of the registry's release, installed or not
            return self.unusable
        if not self.installed():
            return "not installed"
        if algo not in ALGORITHMS.get(self.name, ()):
            return f"no {algo} adapter for {self.label}" if self.name in ("tianshou", "torchrl") else \
                f"{self.label} has no {algo}"
        return None


PEERS: dict[str, Peer] = {p.name: p for p in (
    Peer("sb3", "SB3", "stable_baselines3", "stable-baselines3"),
    Peer("sbx", "SBX", "sbx", "sbx-rl"),
    Peer("tianshou", "Tianshou", "tianshou", "tianshou"),
    Peer("torchrl", "TorchRL", "torchrl", "torchrl"),
    Peer("cleanrl", "CleanRL", "cleanrl", "cleanrl",
         unusable="cleanrl 0.4.8 (the registry's latest, 2021) is module-level gym<0.22 scripts "
                  "(gym.wrappers.Monitor, 4-tuple step): no importable algorithm, cannot run with gymnasium 1.x"),
)}

ALGORITHMS: dict[str, tuple[str, ...]] = {
    "sb3": ("ppo", "dqn", "td3", "ddpg", "sac"),
    "sbx": ("ppo", "dqn", "td3", "sac"),
    "tianshou": ("ppo", "dqn", "td3", "sac", "sac_discrete"),
    "torchrl": ("ppo", "dqn"),
}


def pin_to_cores(n: int) -> list[int]:
    """Pin this process (every thread it has, and so every thread they start) to the first ``n`` CPUs
    it may run on; returns them. With ``n = 1`` each library gets one core, whatever its runtime does
    with threads (JAX dispatches asynchronously and overlaps Python with XLA on a second core)."""
    allowed = sorted(os.sched_getaffinity(0))
    if not 1 <= n <= len(allowed):
        raise ValueError(f"--cores {n}: this process may use {len(allowed)} CPU(s)")
    chosen = allowed[:n]
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that ended since the listing
            os.sched_setaffinity(int(tid), chosen)
    return chosen


def versions(names: list[str]) -> dict[str, str]:
    """name -> installed version, or why it is skipped ("not installed", or the reason it cannot run)."""
    out = {}
    for name in names:
        peer = PEERS[name]
        version = peer.version() if peer.installed() else None
        out[name] = version if version and not peer.unusable else (peer.skip_reason("") or "")
    return out


@dataclass
class Trained:
    act: Act  # greedy action for one observation
    build_s: float  # constructing the agent (envs, networks, optimizers)
    learn_s: float  # the training call(s) for the whole budget


def widths(hp: dict[str, Any], default: list[int] | None = None) -> list[int]:
    """The recipe's hidden layer sizes (``net.widths``); ``default`` where it gives none."""
    given = (hp.get("net") or {}).get("widths", default)
    if given is None:
        raise KeyError(f"the recipe gives no net.widths: {hp}")
    return list(given)


def train(peer: str, algo: str, env_id: str, hp: dict[str, Any], seed: int, steps: int) -> Trained:
    """Train ``peer``'s ``algo`` on ``env_id`` for ``steps`` env steps with the recipe ``hp`` (rlsuite's
    key names). Raises ``LookupError`` with the reason when the peer is skipped."""
    reason = PEERS[peer].skip_reason(algo)
    if reason:
        raise LookupError(f"{peer}: {reason}")
    torch.manual_seed(seed)
    np.random.seed(seed)
    family = "sb3" if peer in ("sb3", "sbx") else peer
    return _BUILDERS[family](peer, algo, env_id, hp, seed, steps)


def _timed(build: Callable[[], Any], learn: Callable[[Any], None]) -> tuple[Any, float, float]:
    t0 = time.perf_counter()
    model = build()
    t1 = time.perf_counter()
    learn(model)
    return model, t1 - t0, time.perf_counter() - t1


# ---- SB3 and SBX (one API) -------------------------------------------------------------------------


def _linear(value: float) -> Callable[[float], float]:
    return lambda progress_remaining: progress_remaining * value


def _sb3_family(peer: str, algo: str, env_id: str, hp: dict[str, Any], seed: int, steps: int) -> Trained:
    import importlib

    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    lib = importlib.import_module("stable_baselines3" if peer == "sb3" else "sbx")

    def build() -> Any:
        if algo == "ppo":
            from stable_baselines3.common.env_util import make_vec_env

            env = make_vec_env(env_id, n_envs=hp["n_envs"], seed=seed)
            lr = _linear(hp["lr"]) if hp.get("anneal_lr") else hp["lr"]
            clip = _linear(hp["clip_range"]) if hp.get("anneal_clip") else hp["clip_range"]
            return lib.PPO("MlpPolicy", env, n_steps=hp["n_steps"], batch_size=hp["batch_size"],
                           gae_lambda=hp["gae_lambda"], gamma=hp["gamma"], n_epochs=hp["n_epochs"],
                           ent_coef=hp["ent_coef"], learning_rate=lr, clip_range=clip, seed=seed, device="cpu",
                           verbose=0)
        env = gym.make(env_id)
        common = dict(learning_rate=hp["lr"], buffer_size=hp["buffer_size"], learning_starts=hp["learning_starts"],
                      batch_size=hp["batch_size"], gamma=hp["gamma"], train_freq=hp["train_freq"],
                      gradient_steps=hp["gradient_steps"], policy_kwargs=dict(net_arch=widths(hp)),
                      seed=seed, device="cpu", verbose=0)
        if algo == "dqn":
            return lib.DQN("MlpPolicy", env, target_update_interval=hp["target_update_interval"],
                           exploration_fraction=hp["exploration_fraction"],
                           exploration_final_eps=hp["exploration_final_eps"], **common)
        if algo == "sac":  # automatic entropy tuning, target −|A|
            return lib.SAC("MlpPolicy", env, tau=hp.get("tau", 0.005), ent_coef="auto", **common)
        n_actions = env.action_space.shape[0]
        noise_cls = NormalActionNoise if hp.get("action_noise", "normal") == "normal" else OrnsteinUhlenbeckActionNoise
        noise = noise_cls(np.zeros(n_actions), hp["noise_std"] * np.ones(n_actions))
        return getattr(lib, algo.upper())("MlpPolicy", env, tau=hp.get("tau", 0.005), action_noise=noise, **common)

    model, build_s, learn_s = _timed(build, lambda m: m.learn(steps))
    return Trained(lambda obs: model.predict(obs, deterministic=True)[0], build_s, learn_s)


# ---- Tianshou 2 ------------------------------------------------------------------------------------


def _tianshou(peer: str, algo: str, env_id: str, hp: dict[str, Any], seed: int, steps: int) -> Trained:
    import tianshou.algorithm.modelfree
    import tianshou.utils.net.continuous
    import tianshou.utils.net.discrete  # noqa: F401
    from tianshou.data import Collector, VectorReplayBuffer
    from tianshou.env import DummyVectorEnv
    from tianshou.trainer import OffPolicyTrainerParams, OnPolicyTrainerParams

    probe = gym.make(env_id)
    n_envs = hp.get("n_envs", 1)
    holder: dict[str, Any] = {}

    def build() -> Any:
        envs = DummyVectorEnv([lambda: gym.make(env_id) for _ in range(n_envs)])
        envs.seed(seed)
        algorithm = _TIANSHOU_ALGOS[algo](probe, hp, steps)
        size = hp["n_envs"] * hp["n_steps"] if algo == "ppo" else hp["buffer_size"]
        holder["collector"] = Collector(algorithm, envs, VectorReplayBuffer(size, n_envs),
                                        exploration_noise=algo != "ppo")
        return algorithm

    def learn(algorithm: Any) -> None:
        collector = holder["collector"]
        collector.reset()
        quiet = dict(verbose=False, show_progress=False, max_epochs=1, training_collector=collector)
        if algo == "ppo":
            rollout = hp["n_envs"] * hp["n_steps"]
            algorithm.run_training(OnPolicyTrainerParams(
                epoch_num_steps=steps, collection_step_num_env_steps=rollout, batch_size=hp["batch_size"],
                update_step_num_repetitions=hp["n_epochs"], **quiet))
            return
        # warm-up with uniform random actions, as SB3's learning_starts
        collector.collect(n_step=hp["learning_starts"], random=True)
        training_fn = None
        if algo == "dqn":  # SB3's linear epsilon schedule over exploration_fraction of the budget
            decay = hp["exploration_fraction"] * steps

            def training_fn(epoch: int, env_step: int) -> None:
                frac = min(1.0, (env_step + hp["learning_starts"]) / decay)
                algorithm.policy.set_eps_training(1.0 + frac * (hp["exploration_final_eps"] - 1.0))

        algorithm.run_training(OffPolicyTrainerParams(
            epoch_num_steps=steps - hp["learning_starts"], collection_step_num_env_steps=hp["train_freq"],
            update_step_num_gradient_steps_per_sample=hp["gradient_steps"] / hp["train_freq"],
            batch_size=hp["batch_size"], training_fn=training_fn, **quiet))

    # Tianshou's gradient-update progress bar ignores show_progress=False: its output is dropped
    with contextlib.redirect_stderr(io.StringIO()):
        algorithm, build_s, learn_s = _timed(build, learn)
    algorithm.policy.eval()
    return Trained(lambda obs: algorithm.policy.compute_action(obs), build_s, learn_s)


def _ts_net(obs_space: gym.Space, hidden: list[int], **kwargs: Any) -> Any:
    from tianshou.utils.net.common import Net

    return Net(state_shape=obs_space.shape, hidden_sizes=list(hidden), **kwargs)


def _ts_ppo(probe: gym.Env, hp: dict[str, Any], steps: int) -> Any:
    from tianshou.algorithm.modelfree.ppo import PPO
    from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory, LRSchedulerFactoryLinear
    from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic

    if not isinstance(probe.action_space, gym.spaces.Discrete):
        raise LookupError("tianshou: the PPO adapter covers discrete actions only")
    hidden = widths(hp, [64, 64])  # SB3's MlpPolicy: separate [64, 64] tanh trunks
    actor = DiscreteActor(preprocess_net=_ts_net(probe.observation_space, hidden, activation=torch.nn.Tanh),
                          action_shape=probe.action_space.n, softmax_output=False)
    critic = DiscreteCritic(preprocess_net=_ts_net(probe.observation_space, hidden, activation=torch.nn.Tanh))
    optim = AdamOptimizerFactory(lr=hp["lr"])
    if hp.get("anneal_lr"):
        optim = optim.with_lr_scheduler_factory(LRSchedulerFactoryLinear(
            max_epochs=1, epoch_num_steps=steps, collection_step_num_env_steps=hp["n_envs"] * hp["n_steps"]))
    # Tianshou has no clip-range schedule: clip_range stays constant (anneal_clip has no counterpart)
    return PPO(policy=DiscreteActorPolicy(actor=actor, action_space=probe.action_space, deterministic_eval=True),
               critic=critic, optim=optim, eps_clip=hp["clip_range"], vf_coef=hp.get("vf_coef", 0.5),
               ent_coef=hp["ent_coef"], max_grad_norm=hp.get("max_grad_norm", 0.5), gae_lambda=hp["gae_lambda"],
               gamma=hp["gamma"], advantage_normalization=True)


def _ts_dqn(probe: gym.Env, hp: dict[str, Any], steps: int) -> Any:
    from tianshou.algorithm.modelfree.dqn import DQN, DiscreteQLearningPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory

    net = _ts_net(probe.observation_space, widths(hp), action_shape=probe.action_space.n)
    policy = DiscreteQLearningPolicy(model=net, action_space=probe.action_space, eps_training=1.0)
    # SB3 syncs the target every target_update_interval env steps; with train_freq >= that interval
    # this is once per round of gradient steps, which Tianshou counts in updates
    sync_every = max(1, hp["gradient_steps"] * max(1, hp["target_update_interval"] // hp["train_freq"]))
    return DQN(policy=policy, optim=AdamOptimizerFactory(lr=hp["lr"]), gamma=hp["gamma"],
               target_update_freq=sync_every, is_double=False, huber_loss_delta=1.0)


def _ts_critics(probe: gym.Env, hp: dict[str, Any], make: Callable[[], Any]) -> dict[str, Any]:
    from tianshou.algorithm.optim import AdamOptimizerFactory

    return dict(critic=make(), critic_optim=AdamOptimizerFactory(lr=hp["lr"]), critic2=make(),
                critic2_optim=AdamOptimizerFactory(lr=hp["lr"]), policy_optim=AdamOptimizerFactory(lr=hp["lr"]),
                tau=hp.get("tau", 0.005), gamma=hp["gamma"])


def _ts_continuous_critic(probe: gym.Env, hp: dict[str, Any]) -> Any:
    from tianshou.utils.net.continuous import ContinuousCritic

    return ContinuousCritic(preprocess_net=_ts_net(probe.observation_space, widths(hp),
                                                   action_shape=probe.action_space.shape, concat=True))


def _ts_td3(probe: gym.Env, hp: dict[str, Any], steps: int) -> Any:
    from tianshou.algorithm.modelfree.ddpg import ContinuousDeterministicPolicy
    from tianshou.algorithm.modelfree.td3 import TD3
    from tianshou.exploration import GaussianNoise
    from tianshou.utils.net.continuous import ContinuousActorDeterministic

    # the actor acts in [-1, 1] and the policy scales to the bounds, so the noises are in SB3's normalised units
    actor = ContinuousActorDeterministic(preprocess_net=_ts_net(probe.observation_space, widths(hp)),
                                         action_shape=probe.action_space.shape, max_action=1.0)
    policy = ContinuousDeterministicPolicy(actor=actor, exploration_noise=GaussianNoise(sigma=hp["noise_std"]),
                                           action_space=probe.action_space)
    return TD3(policy=policy, policy_noise=0.2, noise_clip=0.5, update_actor_freq=2,
               **_ts_critics(probe, hp, lambda: _ts_continuous_critic(probe, hp)))


def _ts_sac(probe: gym.Env, hp: dict[str, Any], steps: int) -> Any:
    from tianshou.algorithm.modelfree.sac import SAC, AutoAlpha, SACPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.utils.net.continuous import ContinuousActorProbabilistic

    actor = ContinuousActorProbabilistic(preprocess_net=_ts_net(probe.observation_space, widths(hp)),
                                         action_shape=probe.action_space.shape, unbounded=True, conditioned_sigma=True)
    alpha = AutoAlpha(target_entropy=-float(np.prod(probe.action_space.shape)), log_alpha=0.0,
                      optim=AdamOptimizerFactory(lr=hp["lr"]))
    return SAC(policy=SACPolicy(actor=actor, action_space=probe.action_space), alpha=alpha,
               **_ts_critics(probe, hp, lambda: _ts_continuous_critic(probe, hp)))


def _ts_sac_discrete(probe: gym.Env, hp: dict[str, Any], steps: int) -> Any:
    from tianshou.algorithm.modelfree.discrete_sac import DiscreteSAC, DiscreteSACPolicy
    from tianshou.algorithm.modelfree.sac import AutoAlpha
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic

    n = probe.action_space.n
    actor = DiscreteActor(preprocess_net=_ts_net(probe.observation_space, widths(hp)), action_shape=n,
                          softmax_output=False)
    alpha = AutoAlpha(target_entropy=hp.get("target_entropy_scale", 0.98) * math.log(n),
                      log_alpha=math.log(hp.get("init_alpha", 1.0)), optim=AdamOptimizerFactory(lr=hp["lr"]))

    def critic() -> Any:
        return DiscreteCritic(preprocess_net=_ts_net(probe.observation_space, widths(hp)), last_size=n)

    return DiscreteSAC(policy=DiscreteSACPolicy(actor=actor, action_space=probe.action_space), alpha=alpha,
                       **_ts_critics(probe, hp, critic))


_TIANSHOU_ALGOS: dict[str, Callable[[gym.Env, dict[str, Any], int], Any]] = {
    "ppo": _ts_ppo, "dqn": _ts_dqn, "td3": _ts_td3, "sac": _ts_sac, "sac_discrete": _ts_sac_discrete}

# ---- TorchRL ---------------------------------------------------------------------------------------


def _torchrl(peer: str, algo: str, env_id: str, hp: dict[str, Any], seed: int, steps: int) -> Trained:
    if not isinstance(gym.make(env_id).action_space, gym.spaces.Discrete):
        raise LookupError(f"torchrl: the {algo} adapter covers discrete actions only")
    return (_torchrl_ppo if algo == "ppo" else _torchrl_dqn)(env_id, hp, seed, steps)


def _greedy(q_or_logits: torch.nn.Module) -> Act:
    def act(obs: np.ndarray) -> int:
        with torch.no_grad():
            return int(q_or_logits(torch.as_tensor(obs, dtype=torch.float32)).argmax())

    return act


def _torchrl_ppo(env_id: str, hp: dict[str, Any], seed: int, steps: int) -> Trained:
    """PPO from TorchRL's parts, as its PPO tutorial builds it: a serial vector env, a collector,
    GAE, ``ClipPPOLoss`` and a minibatch loop; SB3's MlpPolicy networks (separate [64, 64] tanh)."""
    from tensordict.nn import TensorDictModule
    from torchrl.collectors import Collector
    from torchrl.envs import GymEnv, SerialEnv
    from torchrl.modules import MLP, ProbabilisticActor, ValueOperator
    from torchrl.objectives import ClipPPOLoss
    from torchrl.objectives.value import GAE

    probe = gym.make(env_id)
    n_obs, n_act = probe.observation_space.shape[0], int(probe.action_space.n)
    rollout = hp["n_envs"] * hp["n_steps"]
    hidden = widths(hp, [64, 64])
    parts: dict[str, Any] = {}

    def build() -> Any:
        env = SerialEnv(hp["n_envs"], lambda: GymEnv(env_id, categorical_action_encoding=True))
        env.set_seed(seed)
        logits = MLP(in_features=n_obs, out_features=n_act, num_cells=list(hidden), activation_class=torch.nn.Tanh)
        actor = ProbabilisticActor(TensorDictModule(logits, in_keys=["observation"], out_keys=["logits"]),
                                   in_keys=["logits"], distribution_class=torch.distributions.Categorical,
                                   return_log_prob=True, spec=env.action_spec)
        critic = ValueOperator(MLP(in_features=n_obs, out_features=1, num_cells=list(hidden),
                                   activation_class=torch.nn.Tanh), in_keys=["observation"])
        loss = ClipPPOLoss(actor, critic, clip_epsilon=hp["clip_range"], entropy_bonus=hp["ent_coef"] > 0,
                           entropy_coeff=hp["ent_coef"] or None, critic_coeff=hp.get("vf_coef", 0.5),
                           loss_critic_type="l2", normalize_advantage=True)
        parts.update(logits=logits, loss=loss, gae=GAE(gamma=hp["gamma"], lmbda=hp["gae_lambda"], value_network=critic),
                     optim=torch.optim.Adam(loss.parameters(), lr=hp["lr"]),
                     collector=Collector(env, actor, frames_per_batch=rollout, total_frames=steps))
        return parts

    def learn(parts: dict[str, Any]) -> None:
        loss, optim = parts["loss"], parts["optim"]
        n_iters = max(1, steps // rollout)
        for i, batch in enumerate(parts["collector"]):
            remaining = 1.0 - i / n_iters  # SB3's linear schedules of lr and clip range
            if hp.get("anneal_lr"):
                optim.param_groups[0]["lr"] = hp["lr"] * remaining
            if hp.get("anneal_clip"):
                loss.clip_epsilon.fill_(hp["clip_range"] * remaining)
            with torch.no_grad():
                parts["gae"](batch)
            flat = batch.reshape(-1)
            for _ in range(hp["n_epochs"]):
                for idx in torch.randperm(flat.shape[0]).split(hp["batch_size"]):
                    out = loss(flat[idx])
                    total = out["loss_objective"] + out["loss_critic"] + out.get("loss_entropy", 0.0)
                    optim.zero_grad()
                    total.backward()
                    torch.nn.utils.clip_grad_norm_(loss.parameters(), hp.get("max_grad_norm", 0.5))
                    optim.step()
        parts["collector"].shutdown()

    parts, build_s, learn_s = _timed(build, learn)
    return Trained(_greedy(parts["logits"]), build_s, learn_s)


def _torchrl_dqn(env_id: str, hp: dict[str, Any], seed: int, steps: int) -> Trained:
    """DQN from TorchRL's parts (its DQN tutorial's shape): ``QValueActor`` + ``EGreedyModule``, a
    collector of ``train_freq`` frames (random actions for the first ``learning_starts``), a replay
    buffer, ``DQNLoss`` (Huber, no double-Q: SB3's DQN) and ``HardUpdate`` of the target."""
    from tensordict.nn import TensorDictSequential
    from torchrl.collectors import Collector
    from torchrl.data import LazyTensorStorage, ReplayBuffer
    from torchrl.envs import GymEnv
    from torchrl.modules import MLP, EGreedyModule, QValueActor
    from torchrl.objectives import DQNLoss, HardUpdate

    probe = gym.make(env_id)
    n_obs, n_act = probe.observation_space.shape[0], int(probe.action_space.n)
    parts: dict[str, Any] = {}

    def build() -> Any:
        env = GymEnv(env_id, categorical_action_encoding=True)
        env.set_seed(seed)
        q_net = MLP(in_features=n_obs, out_features=n_act, num_cells=widths(hp))
        actor = QValueActor(q_net, in_keys=["observation"], spec=env.action_spec)
        egreedy = EGreedyModule(env.action_spec, eps_init=1.0, eps_end=hp["exploration_final_eps"],
                                annealing_num_steps=int(hp["exploration_fraction"] * steps))
        loss = DQNLoss(actor, loss_function="smooth_l1", delay_value=True, double_dqn=False,
                       action_space=env.action_spec)
        loss.make_value_estimator(gamma=hp["gamma"])
        # SB3 syncs every target_update_interval env steps: once per round of gradient steps here
        sync_every = hp["gradient_steps"] * max(1, hp["target_update_interval"] // hp["train_freq"])
        parts.update(q_net=q_net, egreedy=egreedy, loss=loss,
                     target=HardUpdate(loss, value_network_update_interval=sync_every),
                     optim=torch.optim.Adam(loss.parameters(), lr=hp["lr"]),
                     buffer=ReplayBuffer(storage=LazyTensorStorage(hp["buffer_size"]), batch_size=hp["batch_size"]),
                     collector=Collector(env, TensorDictSequential(actor, egreedy), frames_per_batch=hp["train_freq"],
                                         total_frames=steps, init_random_frames=hp["learning_starts"]))
        return parts

    def learn(parts: dict[str, Any]) -> None:
        loss, optim, buffer = parts["loss"], parts["optim"], parts["buffer"]
        collected = 0
        for batch in parts["collector"]:
            buffer.extend(batch.reshape(-1))
            collected += batch.numel()
            parts["egreedy"].step(batch.numel())
            if collected <= hp["learning_starts"]:
                continue
            for _ in range(hp["gradient_steps"]):
                out = loss(buffer.sample())
                optim.zero_grad()
                out["loss"].backward()
                torch.nn.utils.clip_grad_norm_(loss.parameters(), 10.0)  # SB3 DQN's max_grad_norm
                optim.step()
                parts["target"].step()
        parts["collector"].shutdown()

    parts, build_s, learn_s = _timed(build, learn)
    return Trained(_greedy(parts["q_net"]), build_s, learn_s)


_BUILDERS: dict[str, Callable[[str, str, str, dict[str, Any], int, int], Trained]] = {
    "sb3": _sb3_family, "tianshou": _tianshou, "torchrl": _torchrl}
