"""The compiled update (``runtime.compiled_update``, rlsuite/compiled_update.py) ends at the same weights
as the eager update, to float rounding (the written-out Adam and clipping reorder float work).

DQN is compared over whole ``learn`` runs (ε-greedy argmax actions do not feel rounding, so the two
runs see the same transitions, PER priorities included); DDPG/TD3 over the same fixed minibatches,
since continuous actions would carry rounding into the env and the data. Each compiled case costs a
torch.compile (seconds, more on a loaded machine): one case runs by default, the rest are ``slow``.
"""

from __future__ import annotations

import copy
import logging

import pytest
import torch

import rlsuite
from rlsuite import compile_cache
from rlsuite.buffers import to_torch
from rlsuite.compiled_update import compiler_missing

pytestmark = pytest.mark.skipif(compiler_missing(torch.device("cpu")) is not None, reason="no C++ compiler")


def _weights(agent, *modules: str) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for m in modules for p in getattr(agent, m).parameters()])


def _dqn_weights(compiled: bool, flags: dict, loop: bool = True, disk: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor, object]:
    flags = {"gradient_steps": 1, **flags}
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=3, device="cpu", learning_starts=100,
                               train_freq=4, batch_size=32, net={"widths": [32, 32]},
                               runtime={"compiled_update": compiled, "compiled_loop": loop, "compile_cache": disk},
                               **flags)
    assert (agent.compiled_step is not None) == compiled  # the switch takes effect
    if compiled:  # count the rounds that ran as one compiled loop
        steps, agent.loop_calls = agent.compiled_step.steps, 0

        def counted(*args):
            agent.loop_calls += 1
            return steps(*args)
        agent.compiled_step.steps = counted
    before = _weights(agent, "q_net").clone()
    agent.learn(300)  # 50 rounds of `gradient_steps` updates
    return before, _weights(agent, "q_net", "target_net"), agent


DQN_FLAGS = [
    # uniform replay: each round's 4 steps in one compiled torch.while_loop
    pytest.param(dict(gradient_steps=4), id="plain-loop"),
    pytest.param(dict(), id="plain-one-step-per-round"),  # steps(1): the single step, shaped as the loop's
    pytest.param(dict(gradient_steps=3, double=True, dueling=True, distributional=True, n_step=3, tau=0.5),
                 id="loop-double-dueling-c51-nstep-polyak", marks=pytest.mark.slow),
    pytest.param(dict(double=True, dueling=True, prioritized=True, tau=0.5), id="double-dueling-per-polyak",
                 marks=pytest.mark.slow),
    pytest.param(dict(noisy=True, distributional=True, n_step=3, double=True), id="noisy-c51-nstep",
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize("flags", DQN_FLAGS)
def test_dqn_compiled_update_gives_the_eager_weights(flags, monkeypatch):
    monkeypatch.setattr(compile_cache, "_FUNCTIONS", {})  # as in a new process
    start_eager, eager, _ = _dqn_weights(False, flags)
    start_compiled, compiled, agent = _dqn_weights(True, flags)
    assert torch.equal(start_eager, start_compiled)
    assert not torch.equal(compiled[: len(start_compiled)], start_compiled)  # it trained
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)
    # the torch.optim.Adam holds the compiled step's state: a checkpoint continues from it
    assert all(float(s["step"]) == agent.updates for s in agent.optimizer.state.values())
    looped = not (flags.get("prioritized") or flags.get("noisy"))  # PER and noise change between steps
    assert (agent.loop_calls == 50) if looped else (agent.loop_calls == 0)
    if looped:  # the loop's generated wrapper was built in C++
        assert agent.compiled_step.loop_wrapper == "c++"
    if looped and flags.get("gradient_steps", 1) > 1:  # a loop ran (one step per round runs the single step)
        assert agent.compiled_step.loop_source == "compiled"  # and was kept on disk
        assert len(list(compile_cache.cache_directory().glob("*.pt2"))) == 1
        # a later process loads it instead of compiling, and takes the same steps to the same weights
        monkeypatch.setattr(compile_cache, "_FUNCTIONS", {})
        _, reloaded, again = _dqn_weights(True, flags)
        assert again.compiled_step.loop_source == "loaded" and again.loop_calls == 50
        assert torch.equal(reloaded, compiled)


def test_the_disk_cache_off_switch_compiles_in_memory_only():
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, device="cpu",
                               runtime={"compiled_update": True, "compile_cache": False})
    assert not isinstance(agent.compiled_step._loop, compile_cache.DiskCompiled)
    assert agent.compiled_step.loop_source is None
    on = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, device="cpu", runtime={"compiled_update": True})
    assert isinstance(on.compiled_step._loop, compile_cache.DiskCompiled)


def test_dqn_compiled_loop_off_switch_takes_one_call_per_step_to_the_same_weights():
    _, looped, _ = _dqn_weights(True, dict(gradient_steps=4, tau=0.5))
    _, stepped, agent = _dqn_weights(True, dict(gradient_steps=4, tau=0.5), loop=False)
    assert agent.loop_calls == 0 and agent.updates == 200
    torch.testing.assert_close(looped, stepped, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["td3", "ddpg"])
def test_ddpg_compiled_update_gives_the_eager_weights_on_the_same_batches(name):
    agent = rlsuite.make_agent(name, env="Pendulum-v1", tuned=False, seed=3, device="cpu", learning_starts=100,
                               batch_size=32, net={"widths": [32, 32]},
                               runtime={"compiled_update": True})
    agent.learn(150)  # 50 compiled updates fill the Adam state
    modules = ("actor", "critic", "actor_target", "critic_target", "actor_optimizer", "critic_optimizer")
    snapshot = copy.deepcopy({m: getattr(agent, m).state_dict() for m in modules})
    batches = [to_torch(agent.buffer.sample(32)) for _ in range(40)]
    steps = (agent.compiled_critic_step, agent.compiled_actor_step)
    trained = []
    for compiled in (False, True):
        for m, state in snapshot.items():
            getattr(agent, m).load_state_dict(copy.deepcopy(state))
        agent.compiled_critic_step, agent.compiled_actor_step = steps if compiled else (None, None)
        torch.manual_seed(0)  # the same target-smoothing noise
        for batch in batches:
            agent.update(batch)
        trained.append(_weights(agent, "actor", "critic", "actor_target", "critic_target"))
    eager, compiled_weights = trained
    torch.testing.assert_close(compiled_weights, eager, rtol=1e-4, atol=1e-5)
    start = torch.cat([v.reshape(-1) for m in modules[:4] for v in snapshot[m].values()])
    assert not torch.equal(compiled_weights, start)  # it trained


def test_compiled_update_falls_back_where_it_cannot_apply(caplog):
    with caplog.at_level("WARNING", logger="rlsuite.compiled_update"):
        agent = rlsuite.make_agent("td3", env="Pendulum-v1", tuned=False, seed=0, device="cpu", net={"widths": [8]},
                                   runtime={"precision": "bfloat16", "compiled_update": True})
    assert agent.compiled_critic_step is None and agent.compiled_actor_step is None
    assert "precision=bfloat16" in caplog.text
    with caplog.at_level("WARNING", logger="rlsuite.compiled_update"):
        ppo = rlsuite.make_agent("ppo", env="CartPole-v1", tuned=False, seed=0, device="cpu", target_kl=0.01,
                                 runtime={"compiled_update": True})
    assert ppo.compiled_step is None and "target_kl" in caplog.text


def _compiled_by_default(agent, budget: int) -> bool:
    """Whether ``agent`` compiles its update for a budget of ``budget`` env steps (the choice is made
    when learn() sets the budget; building the step compiles nothing yet)."""
    agent.budget_start, agent.budget_end = 0, budget
    agent.on_budget()
    return agent.compiled_step is not None


def test_the_default_compiles_where_the_planned_gradient_steps_repay_it(caplog):
    """``runtime.compiled_update`` unset: DQN and PPO compile on the CPU when the budget plans at least
    ``compiled_update_pays_after`` gradient steps; true / false force it; TD3's default stays eager."""
    from rlsuite.agents.dqn import DQN
    from rlsuite.agents.ppo import PPO

    def dqn(**runtime):  # 1,000 steps before learning, then 32 gradient steps per 64 env steps
        return rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, device="cpu", learning_starts=1000,
                                  train_freq=64, gradient_steps=32, net={"widths": [8]}, runtime=runtime)

    pays = DQN.compiled_update_pays_after
    just_enough = 1000 + 64 * -(-pays // 32)  # the fewest training rounds planning `pays` gradient steps
    caplog.set_level("INFO", logger="rlsuite.compiled_update")
    assert _compiled_by_default(dqn(), just_enough)
    assert f"plans {32 * -(-pays // 32)} gradient steps" in caplog.text
    assert not _compiled_by_default(dqn(), just_enough - 64)
    assert not _compiled_by_default(dqn(compiled_update=False), 10 * just_enough)
    assert dqn(compiled_update=True).compiled_step is not None  # forced: built at once
    assert not _compiled_by_default(rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, device="cpu",
                                                       net={"widths": [8], "dropout": 0.1}), 10 ** 7)  # quietly eager

    def ppo(**hparams):  # rollouts of 256 steps, 20 epochs of one minibatch: 20 steps per rollout
        return rlsuite.make_agent("ppo", env="CartPole-v1", tuned=False, device="cpu", n_envs=8, n_steps=32,
                                  batch_size=256, n_epochs=20, net={"widths": [8]}, **hparams)

    rollouts = -(-PPO.compiled_update_pays_after // 20)
    assert _compiled_by_default(ppo(), rollouts * 256)
    assert not _compiled_by_default(ppo(), (rollouts - 1) * 256)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # dropout: eager, no warning
    caplog.clear()
    assert not _compiled_by_default(ppo(target_kl=0.01), 10 ** 7)  # unsupported: quietly eager
    assert "compiling the update" not in caplog.text  # and no line claims it compiled
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # nobody asked for it: no warning
    td3 = rlsuite.make_agent("td3", env="Pendulum-v1", tuned=False, device="cpu", net={"widths": [8]})
    td3.budget_start, td3.budget_end = 0, 10 ** 7
    td3.on_budget()
    assert td3.compiled_critic_step is None


def test_written_out_adam_matches_torch_adam_under_a_changing_lr():
    """The functional step (its math without torch.compile) against torch.optim.Adam on the same
    batches, with the learning rate changed between steps as a schedule does: the bias corrections
    ``lr/(1 − β₁ᵗ)`` and ``√(1 − β₂ᵗ)`` are computed outside the graph for each step."""
    from rlsuite.compiled_update import CompiledUpdate

    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    optimizers = [torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.8, 0.95)) for net in nets]
    step = CompiledUpdate(lambda x, y: (((nets[1](x) - y) ** 2).mean(), None), {"net": nets[1]}, optimizers[1],
                          max_grad_norm=0.5, compile=False)
    for t in range(30):
        x, y = torch.randn(16, 3), torch.randn(16, 1)
        for optimizer in optimizers:
            optimizer.param_groups[0]["lr"] = 1e-2 * (1 - t / 30)  # a linear schedule, as anneal_lr
        loss = ((nets[0](x) - y) ** 2).mean()
        optimizers[0].zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(nets[0].parameters(), 0.5)
        optimizers[0].step()
        step(x, y)
    for eager, functional in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(functional, eager, rtol=1e-5, atol=1e-6)
    assert all(float(s["step"]) == 30 for s in optimizers[1].state.values())


PPO_CASES = [
    pytest.param("CartPole-v1", dict(batch_size=32, anneal_lr=True, anneal_clip=True), id="discrete-minibatches"),
    pytest.param("Pendulum-v1", dict(batch_size=64, ent_coef=0.01, clip_range_vf=0.2), id="gaussian-whole-batch",
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("env", "hparams"), PPO_CASES)
def test_ppo_compiled_minibatch_step_gives_the_eager_weights_on_the_same_rollout(env, hparams):
    """PPO's update (epochs of minibatches, advantage normalization, annealed ε, clipping, packed
    Adam) on one stored rollout, eager and compiled from the same weights and Adam state."""
    agent = rlsuite.make_agent("ppo", env=env, tuned=False, seed=3, device="cpu", n_envs=2, n_steps=32, n_epochs=4,
                               net={"widths": [16, 16]}, runtime={"compiled_update": True}, **hparams)
    assert agent.compiled_step is not None and agent.optimizers.packing_of(agent.optimizer) is not None
    agent.learn(256)  # compiled updates fill the Adam state; the last rollout stays in the buffer
    agent.budget_end = 512  # halfway through a budget: annealed lr and ε are not 0
    snapshot = copy.deepcopy({m: getattr(agent, m).state_dict() for m in ("policy", "optimizer")})
    rng_state, step = copy.deepcopy(agent.rng.bit_generator.state), agent.compiled_step
    minibatches = 4 * -(-64 // agent.batch_size)  # epochs × minibatches of the 2 × 32-step rollout
    trained = []
    for compiled in (False, True):
        for m, state in snapshot.items():
            getattr(agent, m).load_state_dict(copy.deepcopy(state))
        agent.rng.bit_generator.state = copy.deepcopy(rng_state)  # the same minibatch permutations
        agent.compiled_step = step if compiled else None
        stats = dict(agent.update())
        trained.append(_weights(agent, "policy"))
        assert stats["train/minibatches"] == minibatches
    eager, compiled_weights = trained
    start = torch.cat([v.reshape(-1) for v in snapshot["policy"].values()])
    assert not torch.equal(compiled_weights, start)  # it trained
    torch.testing.assert_close(compiled_weights, eager, rtol=1e-4, atol=1e-5)
    steps = {float(s["step"]) for s in agent.optimizer.state.values()}  # one packed tensor, one counter
    assert len(agent.optimizer.state) == 1 and steps == {float(snapshot["optimizer"]["state"][0]["step"]) + minibatches}
    # a parameter's storage replaced from outside (vector_to_parameters): the next compiled step
    # re-aliases it first, so the modules still see every step
    params = list(agent.policy.parameters())
    torch.nn.utils.vector_to_parameters(torch.nn.utils.parameters_to_vector(params).clone(), params)
    agent.update()
    packing = agent.optimizers.packing_of(agent.optimizer)
    assert not torch.equal(_weights(agent, "policy"), compiled_weights)
    assert all(p.data_ptr() == v.data_ptr() for p, v in zip(packing.params, packing.views(packing.flat.detach())))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_dqn_compiled_loop_on_cuda_gives_the_eager_weights():
    def trained(compiled: bool) -> torch.Tensor:
        agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=3, device="cuda", learning_starts=100,
                                   train_freq=4, gradient_steps=4, batch_size=32, net={"widths": [32, 32]},
                                   runtime={"compiled_update": compiled})
        agent.learn(300)
        return _weights(agent, "q_net", "target_net").cpu()

    torch.testing.assert_close(trained(True), trained(False), rtol=1e-4, atol=1e-5)
