"""Every `visionlab visualize` command end to end with --quick, and the bad inputs users meet first."""

from __future__ import annotations

import json

import pytest

from visionlab.visualize.commands import COMMANDS, DEMO


def _metrics(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def test_saliency_quick_two_images(cli, tmp_path) -> None:
    out = tmp_path / "sal"
    result = cli("visualize", "saliency", "bundled:cat", "bundled:coffee", "--quick", "--out", out, "--device", "cpu")
    assert result.code == 0, result.err
    m = _metrics(out)
    assert m["saliency/images"] == 2 and m["saliency/top1_acc"] == 1.0
    assert m["saliency/top10_mass"] > 0.2  # a uniform map puts exactly 0.1 of its mass in its top 10%
    assert (out / "figures" / "saliency.png").stat().st_size > 10_000
    assert "bundled" in json.loads((out / "config.json").read_text())["data"]


def test_adversarial_quick_reports_every_attack_side_by_side(cli, tmp_path) -> None:
    out = tmp_path / "adv"
    result = cli(
        "visualize", "adversarial", "--attack", "naive,fgsm,pgd,cw", "--quick", "--out", out, "--device", "cpu"
    )
    assert result.code == 0, result.err
    m = _metrics(out)
    for name in ("naive", "fgsm", "pgd", "cw", "attack"):
        assert {f"{name}/success_rate", f"{name}/linf_mean", f"{name}/l2_mean", f"{name}/steps_mean"} <= set(m)
    assert m["attack/success_rate"] == m["naive/success_rate"]
    # FGSM moves every pixel it does not clip by exactly eps; PGD's random start and steps reach the ball's edge
    assert m["fgsm/linf_max"] == pytest.approx(2 / 255, abs=1e-6)
    assert m["pgd/linf_max"] <= 2 / 255 + 1e-6 and m["pgd/linf_max"] == pytest.approx(2 / 255, abs=1e-6)
    assert m["naive/l2_mean"] <= 3 * 0.5 + 1e-4  # at most --quick's 3 steps of L2 length --step-size 0.5
    assert m["fgsm/steps_mean"] == 1 and m["cw/steps_mean"] == 3 and 0 <= m["pgd/steps_mean"] <= 3
    for name in ("naive", "fgsm", "pgd", "cw"):
        assert (out / "figures" / f"{name}.png").exists()
    assert (out / "samples.npz").exists()


def test_adversarial_transfer_to_another_backbone(cli, tmp_path) -> None:
    out = tmp_path / "transfer"
    result = cli(
        "visualize",
        "adversarial",
        "bundled:cat",
        "--attack",
        "fgsm",
        "--quick",
        "--size",
        "64",
        "--transfer-to",
        "resnet18",
        "--transfer-weights",
        "none",
        "--out",
        out,
        "--device",
        "cpu",
    )
    assert result.code == 0, result.err
    m = _metrics(out)
    assert m["transfer/changed_rate"] == m["transfer/fgsm_changed_rate"]  # transfer/* is the first attack's
    assert m["transfer/changed_rate"] in (0.0, 1.0)  # one image: its prediction changed or not


def test_class_model_quick_with_a_sweep(cli, tmp_path) -> None:
    out = tmp_path / "cm"
    result = cli(
        "visualize",
        "class-model",
        "--class",
        "tarantula,gorilla",
        "--sweep",
        "lr=1,9",
        "--quick",
        "--out",
        out,
        "--device",
        "cpu",
    )
    assert result.code == 0, result.err
    m = _metrics(out)
    # the same four images (2 classes x 2 variants) averaged by class, by variant and all together
    assert m["class/prob"] == pytest.approx((m["class/prob_tarantula"] + m["class/prob_gorilla"]) / 2, rel=1e-5)
    assert m["class/prob"] == pytest.approx((m["sweep/prob_lr_1"] + m["sweep/prob_lr_9"]) / 2, rel=1e-5)
    recorded = json.loads((out / "config.json").read_text())["config"]
    assert (recorded["iterations"], recorded["size"], recorded["snapshots"]) == (10, 64, 3)  # --quick, recorded
    assert (out / "figures" / "progress.png").exists() and (out / "figures" / "final.png").exists()


def test_sanity_quick(cli, tmp_path) -> None:
    out = tmp_path / "sanity"
    result = cli("visualize", "sanity", "--quick", "--out", out, "--device", "cpu")
    assert result.code == 0, result.err
    m = _metrics(out)
    assert m["sanity/spearman_top"] == m["sanity/spearman_logits"]  # the top group first, the stem last
    assert m["sanity/spearman_all"] == m["sanity/spearman_stem"] < 0.5  # a randomized model's maps differ
    assert {"sanity/deletion_auc_saliency", "sanity/deletion_auc_random", "sanity/insertion_auc_gradcam"} <= set(m)
    for fig in ("cascade_correlation", "cascade_maps", "deletion", "insertion"):
        assert (out / "figures" / f"{fig}.png").exists()


def test_unknown_class_suggests_close_names(cli, tmp_path) -> None:
    result = cli("visualize", "class-model", "--class", "tarantla", "--out", tmp_path / "x")
    assert result.code == 2 and "did you mean 'tarantula'" in result.err and result.err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_unreadable_image_exits_3_naming_it(cli, tmp_path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG nope")
    result = cli("visualize", "saliency", str(bad), "--out", tmp_path / "x", "--device", "cpu")
    assert result.code == 3 and "broken.png" in result.err and result.err.count("\n") == 1


@pytest.mark.parametrize("eps", ["1.5", "-0.1", "300/255"])
def test_eps_outside_the_pixel_range_exits_2(cli, tmp_path, eps) -> None:
    result = cli("visualize", "adversarial", f"--eps={eps}", "--out", tmp_path / "x")
    assert result.code == 2 and "--eps must be in [0, 1]" in result.err


def test_quick_caps_each_config_once_through_its_QUICK() -> None:
    from visionlab.visualize.commands import AdversarialConfig, ClassModelConfig, SaliencyConfig, SanityConfig

    sal = SaliencyConfig(quick=True, size=64).budgeted()
    assert (sal.limit, sal.size, sal.samples, sal.ig_steps) == (2, 64, 4, 8)
    adv = AdversarialConfig(quick=True, steps=50, limit=1).budgeted()
    assert (adv.limit, adv.size, adv.steps, adv.examples) == (1, 96, 3, 2)
    cm = ClassModelConfig(quick=True).budgeted()
    assert (cm.iterations, cm.size, cm.snapshots) == (10, 64, 3)
    san = SanityConfig(quick=True).budgeted()
    assert (san.limit, san.size, san.steps) == (2, 96, 6) and san.budgeted() == san
    assert SanityConfig().budgeted() == SanityConfig()  # without --quick nothing changes


def test_demo_steps_name_real_commands_and_fields() -> None:
    from dataclasses import fields

    by_name = {c.name: c for c in COMMANDS}
    for _label, command, overrides in DEMO:
        assert set(overrides) <= {f.name for f in fields(by_name[command].config)}


def test_saliency_side_by_side_backbones(cli, tmp_path) -> None:
    out = tmp_path / "two"
    result = cli(
        "visualize",
        "saliency",
        "bundled:cat",
        "--backbones",
        "efficientnet_lite0,resnet18",
        "--weights",
        "none",
        "--size",
        "64",
        "--out",
        out,
        "--device",
        "cpu",
    )
    assert result.code == 0, result.err
    m = _metrics(out)
    assert {"saliency/top10_mass_efficientnet_lite0", "saliency/top10_mass_resnet18"} <= set(m)
    assert -1.0 <= m["saliency/spearman_efficientnet_lite0_resnet18"] <= 1.0


def test_a_backbone_without_weights_here_exits_3(cli, tmp_path) -> None:
    from visionlab.models import get_spec

    if get_spec("vgg16").weights_file() is not None:
        pytest.skip("vgg16 weights are cached on this machine")
    result = cli(
        "visualize", "saliency", "bundled:cat", "--backbone", "vgg16", "--out", tmp_path / "x", "--device", "cpu"
    )
    assert result.code == 3 and "models prepare vgg16" in result.err


# --- the "must show" measurements: minutes each on a 2-core CPU (`make bench` runs them) ----------


@pytest.mark.slow
def test_pgd_at_2_over_255_fools_lite0_on_real_imagenet_photos(cli, tmp_path) -> None:
    from ..conftest import shared_data

    out = tmp_path / "pgd"
    result = cli(
        "visualize",
        "adversarial",
        shared_data("imagenet_sample"),
        "--attack",
        "pgd,fgsm,naive",
        "--eps",
        "2/255",
        "--target",
        "random",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    m = _metrics(out)
    assert m["clean/images"] == 250
    assert m["pgd/success_rate"] >= 0.95 and m["pgd/linf_max"] <= 2 / 255 + 1e-6
    assert m["fgsm/success_rate"] < m["pgd/success_rate"]


@pytest.mark.slow
@pytest.mark.parametrize("init", ["noise", "bundled:cat"])
def test_class_model_reaches_0_9_for_three_classes(cli, tmp_path, init) -> None:
    out = tmp_path / "cm"
    result = cli("visualize", "class-model", "--class", "tarantula,gorilla,goldfish", "--init", init, "--out", out)
    assert result.code == 0, result.err
    assert _metrics(out)["class/prob_min"] >= 0.9


@pytest.mark.slow
def test_sanity_separates_trained_from_random_and_saliency_from_random_maps(cli, tmp_path) -> None:
    from ..conftest import shared_data

    out = tmp_path / "sanity"
    result = cli("visualize", "sanity", shared_data("imagenet_sample"), "--limit", "40", "--out", out)
    assert result.code == 0, result.err
    m = _metrics(out)
    assert m["sanity/spearman_all"] < 0.3 and m["sanity/spearman_top"] < 0.7
    assert m["sanity/deletion_auc_saliency"] < m["sanity/deletion_auc_random"]
    assert m["sanity/insertion_auc_saliency"] > m["sanity/insertion_auc_random"]
