"""``rlsuite export``: the exported greedy policy run in onnxruntime acts as ``agent.act(obs, True)``."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import rlsuite
from rlsuite.cli import main
from rlsuite.export import ExportError, export_policy

ort = pytest.importorskip("onnxruntime")


def real_observations(agent: rlsuite.Agent, env_id: str, n: int = 64, seed: int = 5) -> np.ndarray:
    """``n`` observations from episodes of ``env_id`` driven by the agent's exploring policy."""
    env = agent.env_spec.make(training=False)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    collected = []
    while len(collected) < n:
        collected.append(np.asarray(obs))
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample() if rng.random() < 0.5
                                                    else agent.act(obs, deterministic=True))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return np.stack(collected)


CASES = [
    ("dqn", "CartPole-v1", {"learning_starts": 100, "train_freq": 4}),
    ("dqn", "MinAtar-Breakout", {"learning_starts": 100, "train_freq": 4, "batch_size": 16}),
    ("dqn", "CartPole-v1", {"learning_starts": 100, "dueling": True, "distributional": True, "noisy": True}),
    ("ppo", "CartPole-v1", {"n_steps": 64, "batch_size": 32}),
    ("ppo", "Pendulum-v1", {"n_steps": 64, "batch_size": 32, "normalize_obs": True}),
    ("td3", "Pendulum-v1", {"learning_starts": 100, "batch_size": 32, "net": {"widths": [32, 32]}}),
]


@pytest.mark.parametrize("name,env_id,hparams", CASES, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_onnx_actions_equal_greedy_act(tmp_path: Path, name: str, env_id: str, hparams: dict) -> None:
    if env_id.startswith("MinAtar"):
        pytest.importorskip("minatar")
    agent = rlsuite.make_agent(name, env=env_id, seed=0, tuned=False, **hparams).learn(total_steps=300)
    obs = real_observations(agent, env_id)
    onnx_path, spec_path = export_policy(agent, tmp_path / "policy", "onnx")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    exported = session.run(["action"], {"obs": obs})[0]
    expected = np.asarray(agent.act(obs, deterministic=True))
    assert exported.shape == expected.shape and exported.dtype == expected.dtype
    if np.issubdtype(expected.dtype, np.integer):
        assert np.array_equal(exported, expected)
    else:  # the same float32 ops up to the last bit of the affine rescaling
        np.testing.assert_allclose(exported, expected, rtol=0, atol=1e-5)
    # one observation at a time (batch dimension 1) gives the same actions
    single = session.run(["action"], {"obs": obs[:1]})[0]
    np.testing.assert_array_equal(single, exported[:1])
    spec = json.loads(spec_path.read_text())
    assert spec["inputs"][0]["dtype"] == str(obs.dtype) and spec["inputs"][0]["shape"] == ["batch", *obs.shape[1:]]
    assert spec["outputs"][0]["dtype"] == str(expected.dtype) and spec["agent"] == agent.name
    assert spec["action_space"]["type"] == type(agent.action_space).__name__


class StackedPixels(gym.Env):
    """A small Atari-like env: 4 stacked 36x36 uint8 frames (channel-first), a bright square that
    moves; reward 1 for pressing the action named by the square's column third."""

    observation_space = gym.spaces.Box(0, 255, (4, 36, 36), np.uint8)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t, self.frames = 0, np.zeros((4, 36, 36), np.uint8)
        return self._push(), {}

    def _push(self) -> np.ndarray:
        frame = self.np_random.integers(0, 40, (36, 36), dtype=np.uint8)
        self.col = int(self.np_random.integers(0, 30))
        frame[10:16, self.col:self.col + 6] = 255
        self.frames = np.concatenate([self.frames[1:], frame[None]])
        return self.frames.copy()

    def step(self, action: int):
        reward = float(int(action) == self.col // 10)
        self.t += 1
        return self._push(), reward, False, self.t >= 50, {}


def test_uint8_stacked_frames_scaled_inside_the_graph(tmp_path: Path) -> None:
    """Pixel scaling and the frame-stack layout live in the exported graph: the input is the env's
    own uint8 (4, 36, 36) stack, and the actions match ``act`` on it."""
    agent = rlsuite.make_agent("dqn", env=StackedPixels, seed=0, tuned=False, learning_starts=100,
                               batch_size=16, train_freq=4).learn(total_steps=300)
    obs = real_observations(agent, "pixels")
    assert obs.dtype == np.uint8 and obs.shape[1:] == (4, 36, 36)
    onnx_path, spec_path = export_policy(agent, tmp_path / "p")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    declared = session.get_inputs()[0]
    assert declared.type == "tensor(uint8)" and declared.shape[1:] == [4, 36, 36]
    assert np.array_equal(session.run(["action"], {"obs": obs})[0], agent.act(obs, deterministic=True))
    assert json.loads(spec_path.read_text())["inputs"][0]["dtype"] == "uint8"


def test_torchscript_second_format(tmp_path: Path) -> None:
    import torch

    agent = rlsuite.make_agent("ppo", env="CartPole-v1", seed=0, tuned=False, n_steps=64, batch_size=32)
    path, _ = export_policy(agent, tmp_path / "policy", "torchscript")
    obs = real_observations(agent, "CartPole-v1", n=16)
    traced = torch.jit.load(str(path))
    assert np.array_equal(traced(torch.from_numpy(obs)).numpy(), agent.act(obs, deterministic=True))


def test_cli_export_from_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = rlsuite.train(["agent=dqn", "env=CartPole-v1", "total_steps=200", "eval_episodes=1", "submit=false",
                         f"run_dir={tmp_path / 'run'}", "logger=[jsonl]"])
    assert main(["export", f"run={run.dir}"]) == 0
    assert (run.dir / "policy.onnx").is_file() and (run.dir / "policy.json").is_file()
    agent = rlsuite.load(run.dir)
    obs = real_observations(agent, "CartPole-v1", n=32)
    session = ort.InferenceSession(str(run.dir / "policy.onnx"), providers=["CPUExecutionProvider"])
    assert np.array_equal(session.run(["action"], {"obs": obs})[0], agent.act(obs, deterministic=True))
    out = tmp_path / "elsewhere" / "cartpole"
    assert main(["export", f"run={run.dir}", "format=torchscript", f"out={out}"]) == 0
    assert (tmp_path / "elsewhere" / "cartpole.pt").is_file()


def test_bad_inputs_one_line_exit_2_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    agent = rlsuite.make_agent("q_learning", env="FrozenLake-v1", seed=0, tuned=False)
    agent.save(tmp_path / "tabular")
    before = sorted(tmp_path.rglob("*"))
    cases = [
        (["export", f"run={tmp_path / 'tabular'}", "format=onx"], "Did you mean: onnx"),
        (["export", f"run={tmp_path / 'missing'}"], "does not exist"),
        (["export", f"run={tmp_path / 'tabular'}"], "cannot be exported"),
        (["export", "format=onnx"], "needs run="),
        (["export", f"run={tmp_path / 'tabular'}", "fromat=onnx"], "Did you mean: format"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before
    with pytest.raises(ExportError):
        export_policy(agent, tmp_path / "x")


def test_recurrent_policy_refused() -> None:
    agent = rlsuite.make_agent("rl2", env="bandits", seed=0, tuned=False)
    with pytest.raises(ExportError, match="cannot be exported"):
        export_policy(agent, "never-written")
    assert not Path("never-written.onnx").exists()
