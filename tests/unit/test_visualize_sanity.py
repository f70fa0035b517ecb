"""Sanity checks: rank correlations, AUCs, deletion order on a model whose answer is known, the cascade order."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionlab.models import load_backbone
from visionlab.visualize import faithfulness as fx


class _Corner(nn.Module):
    """Class 0's logit grows with the contrast of the top-left 4x4 corner; class 1's is constant."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        corner = x[:, :, :4, :4].flatten(1).std(dim=1)
        return torch.stack([40 * corner, torch.full_like(corner, 5.0)], dim=1)


def test_spearman_known_answers() -> None:
    a = torch.arange(16.0).view(1, 4, 4)
    assert fx.spearman(a, a)[0] == pytest.approx(1.0)
    assert fx.spearman(a, -a)[0] == pytest.approx(-1.0)
    assert fx.spearman(a, torch.zeros_like(a))[0] == 0.0  # a constant map carries no ranking


def test_auc_known_answers() -> None:
    assert fx.auc(torch.full((1, 5), 0.3)).item() == pytest.approx(0.3)
    assert fx.auc(torch.linspace(1, 0, 11)[None]).item() == pytest.approx(0.5)


def test_deleting_the_pixels_that_matter_first_gives_the_lowest_deletion_auc() -> None:
    model = _Corner()
    images = (torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).float()  # full contrast
    right = torch.zeros(2, 8, 8)
    right[:, :4, :4] = 1.0 + torch.rand(2, 4, 4)
    wrong = 1.0 - right
    targets = torch.zeros(2, dtype=torch.long)
    del_right, ins_right = fx.deletion_insertion(model, images, right, targets, steps=4, blur_sigma=1.0)
    del_wrong, ins_wrong = fx.deletion_insertion(model, images, wrong, targets, steps=4, blur_sigma=1.0)
    assert del_right.shape == (2, 5)
    assert del_right[:, 1].max() < 0.01  # the corner (a quarter of the image) is gone after one step
    assert fx.auc(del_right).mean() < fx.auc(del_wrong).mean()
    assert fx.auc(ins_right).mean() > fx.auc(ins_wrong).mean()
    torch.testing.assert_close(del_right[:, 0], del_wrong[:, 0])
    del_patch, _ = fx.deletion_insertion(model, images, right, targets, steps=4, blur_sigma=1.0, patch=4)
    assert del_patch[:, 1].max() < 0.01  # the corner is one 4x4 patch, the most important one


def test_cascade_goes_from_the_logits_down_and_randomizes_one_group_at_a_time() -> None:
    backbone = load_backbone("efficientnet_lite0", "none")
    groups = fx.cascade_groups(backbone)
    names = [n for n, _ in groups]
    assert names[0] == "logits" and names[-1] == "stem" and "block6" in names and "pool" not in names
    owned = [id(p) for _, mods in groups for m in mods for p in m.parameters(recurse=False)]
    assert len(owned) == len(set(owned)) == len(list(backbone.parameters()))  # every parameter, once
    top = groups[0][1]
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    fx.randomize_(top)
    changed = {k for k, v in backbone.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"net.classifier.weight", "net.classifier.bias"}
