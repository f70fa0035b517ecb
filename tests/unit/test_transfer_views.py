"""Test-time views: five crops and mirror images, checked against features computed by hand."""

from __future__ import annotations

import torch
from torch import nn

from visionlab.models import load_backbone
from visionlab.transfer.features import features_of
from visionlab.transfer.targets import image_transform
from visionlab.transfer.views import pooled_views, views_of_pass


class LeftColumn(nn.Module):
    """A known extractor: each crop's feature is its left pixel column (so a mirror image gives the right)."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"col": x[..., 0]}


def test_five_crop_views_are_the_means_computed_by_hand() -> None:
    torch.manual_seed(0)
    image = torch.randint(0, 256, (3, 30, 44), dtype=torch.uint8)
    spec = load_backbone("efficientnet_lite0", "none").spec
    crops = image_transform(spec, 16, "five")(image)  # (5, 3, 16, 16): corners, then the centre
    assert crops.shape == (5, 3, 16, 16)
    assert torch.equal(crops[4], image_transform(spec, 16, "center")(image))  # the centre is the centre crop
    views = pooled_views(LeftColumn(), crops[None], "five", flip=True)
    assert list(views) == views_of_pass("five", True)
    left, right = crops[..., 0].flatten(1), crops[..., -1].flatten(1)  # (5, 48) each
    torch.testing.assert_close(views[("five", False)]["col"][0], left.mean(0))
    torch.testing.assert_close(views[("center", False)]["col"][0], left[4])
    torch.testing.assert_close(views[("five", True)]["col"][0], ((left + right) / 2).mean(0))
    torch.testing.assert_close(views[("center", True)]["col"][0], (left[4] + right[4]) / 2)


def test_on_a_constant_image_the_five_crop_mean_is_the_centre_crop() -> None:
    """Every crop of a constant image is the same picture, so the real network's five-crop mean equals its
    centre-crop feature, while on a real picture they differ."""
    backbone = load_backbone("efficientnet_lite0")
    extractor = backbone.extractor(["block3", "pool"]).eval()
    constant = torch.full((3, 50, 70), 120, dtype=torch.uint8)
    striped = constant.clone()
    striped[:, :, :20] = 10
    tf = image_transform(backbone.spec, 40, "five")
    with torch.no_grad():
        for image, same in ((constant, True), (striped, False)):
            x = tf(image)[None]
            five, centre = features_of(extractor, x, False, "five"), pooled_views(extractor, x, "five", False)
            for cut in ("block3", "pool"):
                close = torch.allclose(five[cut], centre[("center", False)][cut], atol=1e-5)
                assert close == same, (cut, same)


def test_a_flip_pass_holds_the_plain_view_and_a_center_pass_nothing_else() -> None:
    assert views_of_pass("center", True) == [("center", True), ("center", False)]
    assert views_of_pass("full", False) == [("full", False)]
    assert views_of_pass("five", False) == [("five", False), ("center", False)]
