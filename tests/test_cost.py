"""What a run costs: the memory refusal before anything is allocated, the phase-aware ETA, the
summary `rlsuite train` prints before training (tiny budgets only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rlsuite
from rlsuite.cost import HEADROOM_BYTES, EtaModel, check_fits, format_bytes
from rlsuite.errors import ConfigError, InsufficientMemoryError


def test_eta_prices_the_learning_phase_before_it_starts():
    # 10,000 steps, learning from step 2,000 at +10 ms per step (the probe), acting at 1,000 steps/s
    eta = EtaModel(10_000, learning_starts=2_000, learning_cost=0.01)
    eta.update(0, now=0.0)
    eta.update(1_000, now=1.0)
    assert eta.rate() == pytest.approx(1_000.0)
    # 1,000 warm-up steps at 1 ms + 8,000 learning steps at 1 ms + 10 ms
    assert eta.remaining_seconds() == pytest.approx(1.0 + 8_000 * 0.011)
    assert eta.complete()
    # in the learning phase the rate of that phase alone counts: 2,000 -> 4,000 steps in 20 s
    eta.update(2_000, now=2.0)
    eta.update(3_000, now=12.0)
    eta.update(4_000, now=22.0)
    assert eta.rate() == pytest.approx(100.0)
    assert eta.remaining_seconds() == pytest.approx(6_000 / 100.0)


def test_eta_without_probe_is_marked_incomplete_and_without_warmup_is_the_rate():
    eta = EtaModel(10_000, learning_starts=5_000, learning_cost=None)
    eta.update(0, now=0.0)
    eta.update(1_000, now=2.0)
    assert not eta.complete() and eta.remaining_seconds() == pytest.approx(9_000 / 500)
    plain = EtaModel(4_000)
    plain.update(0, now=0.0)
    assert plain.remaining_seconds() is None  # nothing measured yet
    plain.update(1_000, now=4.0)
    assert plain.complete() and plain.remaining_seconds() == pytest.approx(12.0)


def test_check_fits_message_says_need_available_and_what_to_change():
    gb = 10**9
    check_fits("a replay buffer", 2 * gb, per_item=2_000, items=10**6, key="agent.buffer_size", available=4 * gb)
    with pytest.raises(InsufficientMemoryError) as info:
        check_fits("a replay buffer", 7_061_000_000, per_item=7_061, items=10**6, key="agent.buffer_size",
                   unit="transitions", available=3 * gb)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, ConfigError)
    fits = (3 * gb - HEADROOM_BYTES) // 7_061  # 348,835 -> 340000 (two significant digits, down)
    assert fits == 348_835
    assert message == ("a replay buffer of 1,000,000 transitions needs 7.06 GB but only 3.00 GB of memory is "
                       f"available ({format_bytes(HEADROOM_BYTES)} kept for the rest of the run); "
                       "set agent.buffer_size=340000 or lower or free memory")


@pytest.mark.parametrize(("agent", "env", "hparams"), [
    ("dqn", "CartPole-v1", {}),
    ("td3", "Pendulum-v1", {}),
    ("rainbow", "CartPole-v1", {}),
])  # fmt: skip
def test_a_buffer_larger_than_memory_is_refused_before_it_is_allocated(agent, env, hparams):
    # 10^12 transitions of even the smallest observation are terabytes: no machine running this has them
    with pytest.raises(InsufficientMemoryError, match=r"needs [\d.]+ TB but only .* available.*agent\.buffer_size="):
        rlsuite.make_agent(agent, env=env, buffer_size=10**12, device="cpu", **hparams)


def test_pong_dqn_buffer_refusal_names_the_frame_store_size():
    pytest.importorskip("ale_py")
    with pytest.raises(InsufficientMemoryError, match=r"1,000,000,000 transitions needs 7\.06 TB"):
        rlsuite.make_agent("dqn", env="Pong", buffer_size=10**9, device="cpu")


def test_probe_learning_cost_changes_nothing():
    agent = rlsuite.make_agent("rainbow", env="CartPole-v1", device="cpu", learning_starts=100, buffer_size=1000)
    before = {k: v.clone() for k, v in agent.q_net.state_dict().items()}
    torch_rng, agent_rng = torch.get_rng_state(), agent.rng.bit_generator.state
    cost = agent.probe_learning_cost()
    assert cost is not None and cost > 0
    assert all(torch.equal(before[k], v) for k, v in agent.q_net.state_dict().items())
    assert all(p.grad is None for p in agent.q_net.parameters())
    assert torch.equal(torch_rng, torch.get_rng_state()) and agent.rng.bit_generator.state == agent_rng
    assert agent.optimizer.state == {}


def test_train_dqn_pong_prints_budget_memory_device_and_estimate_first(tmp_path, capsys):
    """The headline command with a tiny budget: the cost summary comes before any progress line, then
    the one-line estimate after the first 1,000 steps, then progress lines that carry an ETA."""
    pytest.importorskip("ale_py")
    from rlsuite.run import train

    torch.set_num_threads(1)
    train(["agent=dqn", "env=Pong", "total_steps=1400", "agent.learning_starts=1200", "agent.buffer_size=5000",
           "log_every=200", "logger=[console]", "submit=false", "eval_episodes=1", "env.kwargs.max_frames=400",
           f"run_dir={tmp_path / 'run'}"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("dqn Pong", "estimated"))]
    summary = lines[0]
    assert summary.startswith("dqn Pong: 1,400 agent steps = 5,600 frames; buffer (5,000 transitions) 35.30 MB")
    assert "available); device cpu" in summary and "estimated time after the first 1,000 steps" in summary
    estimate = next(i for i, line in enumerate(lines) if line.startswith("estimated time: "))
    assert "once learning starts at step 1,200, from a timed training round" in lines[estimate]
    progress = [line for line in lines[1:] if "steps/s" in line and line.startswith("dqn Pong")]
    # the estimate comes with the progress line of step 1,000, just before it
    assert len(progress) == 7 and lines[estimate + 1].startswith("dqn Pong: 1,000/1,400")
    assert all(" | ETA " in line and not line.endswith("ETA -") for line in progress)
    assert np.isfinite(float(progress[0].split(" | ")[1].split()[0].replace(",", "")))


@pytest.mark.parametrize(("total", "promised"), [(900, False), (1000, False), (3000, True)])
def test_estimate_is_promised_and_printed_only_for_runs_longer_than_its_measurement(tmp_path, capsys, total,
                                                                                    promised):
    """A 900-step run ends before 1,000 steps are measured: neither the promise nor an estimate."""
    from rlsuite.run import train

    train(["agent=q_learning", "env=FrozenLake-v1", f"total_steps={total}", "log_every=500", "logger=[console]",
           "submit=false", "eval_episodes=1", f"run_dir={tmp_path / 'run'}"])
    out = capsys.readouterr().out
    assert ("estimated time after the first 1,000 steps" in out) == promised
    assert ("estimated time: " in out) == promised
