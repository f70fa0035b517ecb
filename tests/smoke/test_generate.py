"""Every `visionlab generate` command end to end with --quick, and the bad inputs users meet first."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest
import torch

from visionlab.generate.commands import COMMANDS, DEMO
from visionlab.generate.interpolate import strip_stats


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """One data root for the module: the digit classifier is trained once and then read from its cache."""
    return tmp_path_factory.mktemp("gan-data")


@pytest.fixture(scope="module")
def dcgan_run(root, tmp_path_factory):
    from visionlab.cli import main

    out = tmp_path_factory.mktemp("runs") / "dcgan"
    assert main(["generate", "dcgan", "--quick", "--out", str(out), "--data-root", str(root), "--device", "cpu"]) == 0
    return out


def _metrics(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def _reads(root, images: np.ndarray) -> torch.Tensor:
    """The quick digit classifier's reading (from the session cache) of saved uint8 images (N, 32, 32)."""
    from visionlab.generate.evaluate import reference
    from visionlab.generate.metrics import predict

    ref = reference(root, 1, torch.device("cpu"))
    return predict(ref.model, torch.from_numpy(images)[:, None])[1].argmax(1)


def _last_epoch(folder, name: str = "gan") -> dict:
    from visionlab.engine import load_checkpoint

    return load_checkpoint(folder / "checkpoints" / f"{name}.pt")["history"][-1]


def test_dcgan_quick_writes_samples_figures_and_metrics(dcgan_run, root) -> None:
    from visionlab.generate.interpolate import load_generator
    from visionlab.generate.metrics import class_histogram, entropy
    from visionlab.generate.sampler import sample_set

    m = _metrics(dcgan_run)
    assert m["samples/count"] == 1000 and m["train/epochs"] == 2
    assert m["samples/fd"] > m["real/fd_floor"] >= 0 and 0 < m["classifier/test_acc"] <= 1
    last = _last_epoch(dcgan_run)
    assert [m[f"train/{k}"] for k in ("loss_d", "loss_g", "d_real", "d_fake")] == [
        last[k] for k in ("loss_d", "loss_g", "d_real", "d_fake")
    ]  # the metrics are the last epoch of the checkpoint
    with np.load(dcgan_run / "samples.npz") as f:
        images = f["images"]
    assert images.shape == (1000, 32, 32) and images.dtype == np.uint8
    g, _ = load_generator(dcgan_run)  # the saved generator and the seeded sampler give the saved samples again
    assert np.array_equal(sample_set(g, 1000, 100, 0, seed=0)[0][:, 0].numpy(), images)
    shares = class_histogram(_reads(root, images))  # the histogram metrics are the classifier's reading
    assert m["samples/class_max_share"] == shares.max() and m["samples/class_min_share"] == shares.min()
    assert m["samples/class_entropy"] == pytest.approx(entropy(shares), abs=1e-12)
    assert not (root / "generate").exists()  # the evaluation classifier is cached outside the data root
    for name in ("samples.png", "progress.png", "progress.gif", "training.png", "class_histogram.png"):
        assert (dcgan_run / "figures" / name).stat().st_size > 1000
    cfg = json.loads((dcgan_run / "config.json").read_text())
    assert "bundled 5,000-digit" in cfg["data"] and "skipped" in cfg["notes"]["inception"]


def test_rerunning_a_finished_run_says_so(cli, dcgan_run, root) -> None:
    result = cli("generate", "dcgan", "--quick", "--out", dcgan_run, "--data-root", root, "--device", "cpu")
    assert result.code == 0 and "already finished" in result.out


def test_a_checkpoint_that_holds_every_epoch_is_not_trained_again(cli, dcgan_run, root) -> None:
    config = dcgan_run / "config.json"
    info = json.loads(config.read_text())
    config.write_text(json.dumps({**info, "status": "running"}))  # as if killed after the last epoch
    result = cli("generate", "dcgan", "--quick", "--out", dcgan_run, "--data-root", root, "--device", "cpu")
    assert result.code == 0 and "already trained (2 epochs" in result.out
    assert json.loads(config.read_text())["status"] == "done"


def test_a_file_as_data_root_still_measures_and_stays_untouched(cli, tmp_path) -> None:
    """The evaluation classifier is cached under the cache root: a data root that cannot hold it is fine."""
    root = tmp_path / "not-a-folder"
    root.write_text("notes\n")
    out = tmp_path / "run"
    result = cli("generate", "dcgan", "--quick", "--limit", "64", "--batch-size", "32", "--samples", "20",
                 "--data-root", root, "--out", out, "--device", "cpu")  # fmt: skip
    assert result.code == 0, result.err
    assert root.read_text() == "notes\n" and _metrics(out)["samples/count"] == 20


def test_cgan_quick_and_interpolation_between_labels(cli, root, tmp_path) -> None:
    out = tmp_path / "cgan"
    result = cli("generate", "cgan", "--quick", "--limit", "128", "--out", out, "--data-root", root, "--device", "cpu")
    assert result.code == 0, result.err
    m = _metrics(out)
    with np.load(out / "samples.npz") as f:
        images, labels = f["images"], f["labels"]
    assert images.shape == (1000, 32, 32) and np.bincount(labels).tolist() == [100] * 10
    read = _reads(root, images).numpy()
    assert m["samples/label_acc"] == pytest.approx(float((read == labels).mean()), abs=1e-6)
    interp = tmp_path / "interp"
    result = cli("generate", "interpolate", "--run", out, "--out", interp, "--data-root", root, "--quick")
    assert result.code == 0, result.err
    m = _metrics(interp)
    assert (interp / "figures" / "interpolation.png").exists() and (interp / "figures" / "labels.png").exists()
    with np.load(interp / "samples.npz") as f:
        strips = f["images"].reshape(8, 10, 32, 32)  # 4 noise strips, then 4 label strips (0->1, 1->2, ...)
    stats = [strip_stats(torch.from_numpy(s)[:, None]) for s in strips[:4]]
    assert m["interp/step_rms"] == pytest.approx(np.mean([s[0] for s in stats]), rel=1e-9)
    assert m["interp/max_step_over_mean"] == pytest.approx(np.mean([s[1] for s in stats]), rel=1e-9)
    ends = _reads(root, strips[4:].reshape(40, 32, 32)).view(4, 10)
    hits = sum(int(ends[i, 0] == i) + int(ends[i, -1] == i + 1) for i in range(4))
    assert m["interp/label_end_acc"] == hits / 8


def test_cgan_trains_data_parallel_on_two_cpu_processes(cli, root, tmp_path) -> None:
    out = tmp_path / "cgan-ddp"
    result = cli(
        "generate", "cgan", "--quick", "--devices", "2", "--batch-size", "32", "--limit", "128", "--samples", "100",
        "--out", out, "--data-root", root, "--device", "cpu",
    )  # fmt: skip
    assert result.code == 0, result.err
    from visionlab.engine import load_checkpoint

    m = _metrics(out)
    assert m["train/epochs"] == 2 and m["train/d_real"] == _last_epoch(out)["d_real"]
    # every process takes 16 of each global batch of 32: 4 steps per epoch over 128 images, as one process
    ckpt = load_checkpoint(out / "checkpoints" / "gan.pt")
    assert int(ckpt["state"]["opt_G"]["state"][0]["step"]) == 2 * 4
    assert "2 processes" in json.loads((out / "config.json").read_text())["notes"]["data_parallel"]
    with np.load(out / "samples.npz") as f:
        assert f["images"].shape == (100, 32, 32)
    again = cli("generate", "cgan", "--quick", "--devices", "2", "--batch-size", "32", "--limit", "128",
                "--samples", "100", "--out", out, "--data-root", root, "--device", "cpu")  # fmt: skip
    assert again.code == 0 and "already finished" in again.out


def test_the_discriminator_options_train_the_discriminators_they_name(cli, root, tmp_path) -> None:
    from visionlab.engine import load_checkpoint

    common = ["--quick", "--limit", "128", "--samples", "100", "--data-root", root, "--device", "cpu"]
    cgan, dcgan = tmp_path / "cgan-projection", tmp_path / "dcgan-pack"
    result = cli("generate", "cgan", "--d-cond", "projection", "--real-label", "0.9", "--out", cgan, *common)
    assert result.code == 0, result.err
    d = load_checkpoint(cgan / "checkpoints" / "gan.pt")["state"]["D"]
    assert d["embed.weight"].shape == (4 * 32 * 16, 10) and d["psi.weight"].shape == (1, 4 * 32, 4, 4)
    assert json.loads((cgan / "config.json").read_text())["config"]["real_label"] == 0.9
    result = cli("generate", "dcgan", "--mbstd", "4", "--pack", "2", "--out", dcgan, *common)
    assert result.code == 0, result.err
    d = load_checkpoint(dcgan / "checkpoints" / "gan.pt")["state"]["D"]
    assert d["net.0.weight"].shape == (32, 2, 4, 4)  # two images stacked along channels
    assert d["net.9.weight"].shape == (1, 4 * 32 + 1, 4, 4)  # the minibatch-std map joins the 4x4 features
    assert _metrics(dcgan)["samples/count"] == 100


def test_an_infogan_code_trains_a_q_head_and_its_generator_interpolates(cli, root, tmp_path) -> None:
    """With feature matching and R1's double backward, in two DDP processes, whose reducer stops the run if a
    parameter of D (its Q head too) gets no gradient in a backward pass."""
    from visionlab.engine import load_checkpoint

    out, interp = tmp_path / "dcgan-info", tmp_path / "interp"
    common = ["--limit", "128", "--samples", "100", "--data-root", root, "--device", "cpu"]
    result = cli("generate", "dcgan", "--quick", "--info-codes", "4", "--feature-matching", "1", "--r1", "1",
                 "--devices", "2", "--batch-size", "32", "--out", out, *common)  # fmt: skip
    assert result.code == 0, result.err
    ckpt = load_checkpoint(out / "checkpoints" / "gan.pt")
    assert ckpt["state"]["D"]["q.weight"].shape == (4, 4 * 32, 4, 4)
    assert 0 <= ckpt["history"][-1]["code_acc"] <= 1
    assert load_checkpoint(out / "checkpoints" / "generator.pt")["codes"] == 4
    with np.load(out / "checkpoints" / "gan-frames.npz") as f:
        assert f["frames"].shape[1] == 4 * 34 + 2  # four rows of 32-pixel images (grid padding 2)
    result = cli("generate", "interpolate", "--run", out, "--out", interp, "--data-root", root, "--quick")
    assert result.code == 0, result.err


def test_sweep_quick_shows_every_variant(cli, root, tmp_path) -> None:
    out = tmp_path / "sweep"
    result = cli(
        "generate", "sweep", "--param", "g_loss=non-saturating,minimax", "--quick", "--samples", "200",
        "--limit", "128", "--out", out, "--data-root", root, "--device", "cpu",
    )  # fmt: skip
    assert result.code == 0, result.err
    m = _metrics(out)
    assert {"g_loss-non-saturating/fd", "g_loss-minimax/fd", "g_loss-minimax/loss_g", "real/fd_floor"} <= set(m)
    assert {"check/test_acc", "g_loss-minimax/class_min_share_check", "g_loss-minimax/class_min_share"} <= set(m)
    assert 0 < m["real/class_min_share"] <= 0.1  # 200 held-out real digits: every digit there, the rarest <= 10%
    assert (out / "figures" / "sweep.png").exists() and (out / "figures" / "progress_g_loss-minimax.png").exists()
    with np.load(out / "samples.npz") as f:
        assert f["images"].shape == (400, 32, 32) and f["variant"].tolist() == [0] * 200 + [1] * 200


def test_a_folder_of_mixed_sizes_and_colours_trains(cli, tmp_path) -> None:
    from ..unit.test_generate_data import _folder

    _folder(tmp_path / "imgs")
    out = tmp_path / "folder"
    result = cli(
        "generate", "dcgan", "--data", "folder", "--data-root", tmp_path / "imgs", "--quick", "--batch-size", "4",
        "--samples", "20", "--workers", "0", "--out", out, "--device", "cpu",
    )  # fmt: skip
    assert result.code == 0, result.err
    with np.load(out / "samples.npz") as f:
        assert f["images"].shape == (20, 32, 32, 3)
    assert "digit" in json.loads((out / "config.json").read_text())["notes"]["digit_metrics"]


@pytest.mark.parametrize(
    "args",
    [["--nz", "0"], ["--ngf", "0"], ["--epochs", "0"], ["--g-loss", "wgan"], ["--devices", "0"],
     ["--devices", "2", "--batch-size", "5"], ["--mbstd", "3"], ["--pack", "3"], ["--real-label", "0.4"]],
)  # fmt: skip
def test_bad_settings_exit_2(cli, tmp_path, args) -> None:
    result = cli("generate", "dcgan", *args, "--out", tmp_path / "x")
    assert result.code == 2 and result.err.startswith("error: ") and result.err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_bad_sweep_param_exits_2(cli, tmp_path) -> None:
    result = cli("generate", "sweep", "--param", "ngf_ndf=256", "--out", tmp_path / "x")
    assert result.code == 2 and "256/8" in result.err


def test_missing_cifar10_exits_3_with_the_fix(cli, tmp_path) -> None:
    result = cli("generate", "dcgan", "--data", "cifar10", "--out", tmp_path / "x", "--device", "cpu")
    assert result.code == 3 and "data prepare cifar10" in result.err


def test_interpolate_without_a_trained_run_exits_3(cli, tmp_path) -> None:
    result = cli("generate", "interpolate", "--run", tmp_path, "--out", tmp_path / "x")
    assert result.code == 3 and "no trained generator" in result.err


def test_divergence_stops_with_the_last_good_checkpoint(root, tmp_path, monkeypatch) -> None:
    import visionlab.generate.train as train
    from visionlab.errors import DivergenceError
    from visionlab.generate.commands import DcganConfig
    from visionlab.runs import Run

    real_step = train.make_step

    def nan_in_epoch_2(*args):
        step, calls = real_step(*args), [0]

        def wrapped(batch, p):
            calls[0] += 1
            logs = step(batch, p)
            return {**logs, "loss_g": float("nan")} if calls[0] > 2 else logs  # 2 steps per epoch

        return wrapped

    monkeypatch.setattr(train, "make_step", nan_in_epoch_2)
    cfg = DcganConfig(
        quick=True, limit=128, batch_size=64, samples=10, data_root=root, device="cpu", out=tmp_path / "div"
    )
    run = Run.open(tmp_path / "div", "generate dcgan", {})
    with pytest.raises(DivergenceError, match="diverged at epoch 2.*last good checkpoint"):
        train.run_dcgan(cfg, run)
    from visionlab.engine import load_checkpoint

    assert load_checkpoint(run.checkpoints / "gan.pt")["epoch"] == 1


def test_demo_steps_name_real_commands_and_fields() -> None:
    by_name = {c.name: c for c in COMMANDS}
    for _label, command, overrides in DEMO:
        assert set(overrides) <= {f.name for f in fields(by_name[command].config)}


# --- the "must show" measurements: minutes each on a 2-core CPU (`make bench` runs them) ----------


@pytest.mark.slow
def test_default_cgan_draws_the_requested_digits(cli, tmp_path) -> None:
    out = tmp_path / "cgan"
    assert cli("generate", "cgan", "--out", out).code == 0
    assert _metrics(out)["samples/label_acc"] >= 0.9


@pytest.mark.slow
def test_default_dcgan_covers_all_ten_digits(cli, tmp_path) -> None:
    out = tmp_path / "dcgan"
    assert cli("generate", "dcgan", "--out", out).code == 0
    m = _metrics(out)
    assert m["samples/digits_covered"] == 10 and m["samples/class_min_share"] >= 0.03
    assert m["samples/fd"] > m["real/fd_floor"]


@pytest.mark.slow
def test_the_minimax_generator_loss_stays_in_noise(cli, tmp_path) -> None:
    out = tmp_path / "loss"
    assert (
        cli("generate", "sweep", "--param", "g_loss=non-saturating,minimax", "--epochs", "15", "--out", out).code == 0
    )
    m = _metrics(out)
    assert m["g_loss-minimax/fd"] > 3 * m["g_loss-non-saturating/fd"]
    assert m["g_loss-minimax/d_fake"] < 0.05 and m["g_loss-minimax/d_real"] > 0.95


@pytest.mark.slow
def test_a_weak_generator_against_a_strong_discriminator_fails(cli, tmp_path) -> None:
    out = tmp_path / "ngf"
    # 8/256 costs 7 s per step of 128 on one core: a short budget of 100 steps of 32 images
    args = ["--param", "ngf_ndf=32/32,256/8,8/256", "--epochs", "2", "--batch-size", "32", "--limit", "1600"]
    args += ["--out", str(out)]
    assert cli("generate", "sweep", *args).code == 0
    m = _metrics(out)
    # the strong discriminator wins at once: G's loss explodes and its samples are one grey noise mode
    assert m["ngf_ndf-8_256/loss_g"] > 3 * m["ngf_ndf-32_32/loss_g"] and m["ngf_ndf-8_256/d_fake"] < 0.03
    assert m["ngf_ndf-8_256/class_entropy"] < 0.1
    assert m["ngf_ndf-256_8/d_fake"] > 0.4  # the weak discriminator is fooled half the time


def test_ema_samples_come_from_the_average_also_under_ddp(cli, root, tmp_path) -> None:
    from visionlab.engine import load_checkpoint
    from visionlab.generate.interpolate import load_generator
    from visionlab.generate.sampler import sample_set

    out = tmp_path / "cgan-ema"
    result = cli(
        "generate", "cgan", "--quick", "--ema", "0.9", "--devices", "2", "--batch-size", "32", "--limit", "128",
        "--samples", "100", "--out", out, "--data-root", root, "--device", "cpu",
    )  # fmt: skip
    assert result.code == 0, result.err
    state = load_checkpoint(out / "checkpoints" / "gan.pt")["state"]
    assert state["G_ema"]["_extra_state"]["updates"] == 2 * 4  # one update per step: 2 epochs of 4 steps
    saved = load_checkpoint(out / "checkpoints" / "generator.pt")["state"]
    averaged = {k.removeprefix("model."): v for k, v in state["G_ema"].items() if k.startswith("model.")}
    assert saved.keys() == averaged.keys() and all(torch.equal(saved[k], averaged[k]) for k in saved)
    assert not torch.equal(saved["net.0.weight"], state["G"]["net.0.weight"])  # the average is not the last G
    g, _ = load_generator(out)
    with np.load(out / "samples.npz") as f:
        assert np.array_equal(sample_set(g, 100, 100, 10, seed=0)[0][:, 0].numpy(), f["images"])
    m = _metrics(out)
    assert {"last_g/fd", "last_g/label_acc", "last_g/label_acc_check"} <= set(m) and m["last_g/fd"] != m["samples/fd"]
