"""`rlsuite fit` / `rlsuite sample`: short real trainings that must improve, kill-and-resume bit for
bit, bad input as one line with exit 2 (nothing created), and pretrained encoders in DQN."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")

from rlsuite.backbones import datasets, fit, load
from rlsuite.backbones.evaluation import frechet_distance
from rlsuite.cli import main
from rlsuite.errors import CheckpointError, IncompatibleEnvError

TINY = ["data=digits", "size=8", "logger=[jsonl]", "batch_size=128"]


def _runs(tmp_path):
    return f"runs_root={tmp_path / 'runs'}"


def test_cnn_fit_learns_digits_over_seeds(tmp_path):
    accs = []
    for seed in (0, 1):
        res = fit(["model=cnn", "arch=tiny", "epochs=4", "lr=0.01", f"seed={seed}", _runs(tmp_path), *TINY])
        accs.append(res.metrics["accuracy"])
        lo, hi = res.metrics["accuracy_ci_low"], res.metrics["accuracy_ci_high"]
        assert lo <= res.metrics["accuracy"] <= hi
        lines = [json.loads(s) for s in (res.dir / "metrics.jsonl").read_text().splitlines()]
        assert [line["step"] for line in lines[:4]] == [1, 2, 3, 4] and "val/accuracy" in lines[0]
        assert (res.dir / "model.safetensors").is_file() and (res.dir / "eval.json").is_file()
    assert min(accs) > 0.6  # chance is 0.1; 4 epochs of the tiny CNN reach ~0.85-0.9


def test_vae_fit_improves_elbo_and_reports_bounds(tmp_path):
    data = datasets.load_digits(0, 8)
    res = fit(["model=vae", "epochs=4", "latent_dim=4", "width=8", "iw_samples=8", "lr=0.003", _runs(tmp_path),
               *TINY, "batch_size=32"])
    torch.manual_seed(0)
    from rlsuite.backbones.generative import VAE

    untrained = VAE((1, 8, 8), latent_dim=4, width=8).eval()
    before = untrained.elbo(torch.from_numpy(data.test.x)).mean().item()
    assert res.metrics["test_elbo"] > before + 5.0  # nats per image
    assert res.metrics["test_iw_bound"] >= res.metrics["test_elbo"] - 0.5  # IW bound is the tighter one
    assert res.metrics["recon_mse"] > 0 and res.metrics["pca_recon_mse"] > 0


def test_gan_fit_runs_and_samples(tmp_path):
    res = fit(["model=gan", "epochs=1", "width=8", "latent_dim=8", "loss=wgan-gp", "conditional=true",
               _runs(tmp_path), *TINY])
    model = load(res.dir)
    assert model.kind == "gan" and model.sample(10).shape == (10, 1, 8, 8)
    # the quality metric without classifier=: a reference CNN trained on the same data, kept in the run
    metrics = res.metrics
    assert metrics["classifier"] == "reference" and metrics["classifier_accuracy"] > 0.5 and "val_best" not in metrics
    assert metrics["feature_fd"] > metrics["feature_fd_real"] >= 0 and 1 <= metrics["classes_covered"] <= 10
    assert load(res.dir / "reference_classifier.safetensors").kind == "cnn"
    assert json.loads((res.dir / "eval.json").read_text())["feature_fd"] == metrics["feature_fd"]
    again = fit(["model=gan", "epochs=1", "width=8", "latent_dim=8", "loss=wgan-gp", "conditional=true",
                 f"classifier={res.dir / 'reference_classifier.safetensors'}", _runs(tmp_path), *TINY])
    assert again.metrics["feature_fd"] == pytest.approx(metrics["feature_fd"])  # same GAN, same features
    assert main(["sample", f"run={res.dir}", "n=10", f"out={tmp_path / 'png'}"]) == 0
    assert {p.name for p in (tmp_path / "png").iterdir()} == {"samples.png", "traversal.png"}


def test_vae_sample_grids(tmp_path):
    res = fit(["model=vae", "epochs=1", "latent_dim=3", "width=4", "iw_samples=2", _runs(tmp_path), *TINY])
    assert main(["sample", f"run={res.dir}", "n=16"]) == 0
    from PIL import Image

    for name in ("samples.png", "reconstructions.png", "traversal.png"):
        with Image.open(res.dir / name) as im:
            assert im.size[0] > 8
    with Image.open(res.dir / "traversal.png") as im:  # 3 latent dims x 9 steps of 8x8 tiles (x4, 1 px pads)
        assert im.size == ((9 * 9 + 1) * 4, (3 * 9 + 1) * 4)


def test_kill_and_resume_repeats_the_uninterrupted_run(tmp_path):
    args = ["model=cnn", "arch=tiny", "epochs=3", "patience=0", *TINY]
    full = fit([*args, f"run_dir={tmp_path / 'full'}"])

    def die(epoch: int) -> None:
        if epoch == 1:
            raise KeyboardInterrupt  # the process dies right after the epoch-1 checkpoint

    with pytest.raises(KeyboardInterrupt):
        fit([*args, f"run_dir={tmp_path / 'killed'}"], on_epoch_end=die)
    assert not (tmp_path / "killed" / "model.safetensors").exists()
    resumed = fit([f"resume={tmp_path / 'killed'}"])
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    strip = [{k: v for k, v in json.loads(s).items() if k != "time"} for s in
             (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    again = [{k: v for k, v in json.loads(s).items() if k != "time"} for s in
             (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert strip == again
    assert main(["fit", f"resume={tmp_path / 'killed'}", "lr=0.1"]) == 2  # only some keys may change


def test_early_stopping_stops_after_patience(tmp_path):
    res = fit(["model=cnn", "arch=tiny", "epochs=50", "patience=1", "lr=1e-9", _runs(tmp_path), *TINY])
    assert res.metrics["epochs"] < 50 and res.metrics["epochs"] - res.metrics["best_epoch"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["model=gann"], "unknown model 'gann'. Did you mean: gan?"),
        (["data=digitz"], "Did you mean: digits?"),
        (["epoch=3"], "unknown fit key 'epoch'. Did you mean: epochs?"),
        (["data=digits", "size=8", "arch={convs: [[8, 3, 2, 2], [8, 3, 2, 2]]}"], "does not fit input (1, 8, 8)"),
        (["model=vae", "data=mnist1d"], "needs images with values in [0, 1]"),
        (["loss=wgan"], "unknown GAN loss 'wgan'. Did you mean: wgan-gp"),
        (["epochs=abc"], "invalid value for 'epochs'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    assert main(["fit", *argv, _runs(tmp_path), "logger=[jsonl]"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing created


def test_bad_folders_and_runs_via_cli(tmp_path, capsys):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    assert main(["fit", f"data={tmp_path / 'empty'}", _runs(tmp_path)]) == 2
    from PIL import Image

    (tmp_path / "mixed" / "a").mkdir(parents=True)
    (tmp_path / "mixed" / "b").mkdir(parents=True)
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "mixed" / "a" / "x.png")
    Image.fromarray(np.zeros((6, 5), np.uint8)).save(tmp_path / "mixed" / "b" / "y.png")
    assert main(["fit", f"data={tmp_path / 'mixed'}", _runs(tmp_path)]) == 2
    assert main(["sample", f"run={tmp_path / 'nothing'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "has no images" in err[0] and "mixed sizes" in err[1] and "no backbone model" in err[2]
    with pytest.raises(CheckpointError):
        load(tmp_path / "nothing")


def test_frechet_distance_by_hand():
    a = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # same covariance, means differ by (3, 4): distance |d|^2 = 25
    assert frechet_distance(a, a + np.array([3.0, 4.0])) == pytest.approx(25.0, abs=1e-6)
    # 1-D: (mu1-mu2)^2 + s1^2 + s2^2 - 2 s1 s2 with sample variances 1 and 4 -> 0 + 1 + 4 - 4 = 1
    x = np.array([[-1.0], [1.0]]) / np.sqrt(2)
    assert frechet_distance(x, 2 * x) == pytest.approx(1.0)


def test_pretrained_vae_encoder_in_dqn_and_ppo(tmp_path):
    pytest.importorskip("minatar")
    import rlsuite

    frames = (np.random.default_rng(0).random((200, 4, 10, 10)) < 0.1).astype(np.float32)
    np.savez(tmp_path / "frames.npz", x=frames, y=np.zeros(200, np.int64))
    vae = fit(["model=vae", f"data={tmp_path / 'frames.npz'}", "epochs=1", "latent_dim=6", "width=4",
               "iw_samples=2", "logger=[jsonl]", _runs(tmp_path)])
    agent = rlsuite.make_agent("dqn", env="MinAtar/Breakout-v1", net={"encoder": str(vae.dir), "widths": [32]},
                               learning_starts=50, buffer_size=500, device="cpu")
    body = agent.q_net.body
    frozen = {k: v.clone() for k, v in body.state_dict().items()}
    vae_weights = vae.model.encoder.state_dict()
    assert all(torch.equal(frozen[f"body.0.{k}"], v) for k, v in vae_weights.items())
    agent.learn(120)
    assert all(torch.equal(frozen[k], v) for k, v in body.state_dict().items())  # frozen: untouched
    assert any(p.requires_grad for p in agent.q_net.head.parameters())
    tuned = rlsuite.make_agent("dqn", env="MinAtar/Breakout-v1",
                               net={"encoder": str(vae.dir), "freeze_encoder": False, "widths": [32]},
                               learning_starts=50, buffer_size=500, device="cpu")
    before = {k: v.clone() for k, v in tuned.q_net.body.state_dict().items()}
    tuned.learn(120)
    assert any(not torch.equal(before[k], v) for k, v in tuned.q_net.body.state_dict().items())
    ppo = rlsuite.make_agent("ppo", env="MinAtar/Breakout-v1", net={"encoder": str(vae.dir)}, n_steps=32, n_envs=2,
                             batch_size=32, device="cpu")
    trunk = ppo.policy.actor_trunk.encoder  # ortho init must not overwrite the pretrained convolutions
    assert all(torch.equal(trunk.state_dict()[f"body.0.{k}"], v) for k, v in vae_weights.items())
    ppo.learn(128)
    assert all(torch.equal(trunk.state_dict()[f"body.0.{k}"], v) for k, v in vae_weights.items())
    with pytest.raises(IncompatibleEnvError, match=r"trained on inputs shaped \(4, 10, 10\).*shaped \(10, 10, 10\)"):
        rlsuite.make_agent("dqn", env="MinAtar/Seaquest-v1", net={"encoder": str(vae.dir)}, device="cpu")


def test_fit_api_takes_a_config_plus_keywords(tmp_path):
    from rlsuite.backbones import FitConfig

    cfg = FitConfig(model="cnn", arch="tiny", data="digits", size=8, logger=["jsonl"], runs_root=str(tmp_path))
    res = fit(cfg, epochs=1, arch={"convs": [[4, 3, 1, 2]], "hidden": [8]})
    assert res.config.epochs == 1 and res.model.spec.convs[0].out == 4
    again = load(res.dir / "model.safetensors")
    x = torch.from_numpy(res.data.test.x[:5])
    assert torch.equal(again(x), res.model.eval()(x)) and again.classes == tuple(str(i) for i in range(10))
