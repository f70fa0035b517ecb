"""Fine-tuning pieces: new heads, freezing, augmentation on training data only, decoding once, inspection."""

from __future__ import annotations

import torch

from visionlab.data import TensorImages
from visionlab.engine import RankBatchSampler, count_parameters
from visionlab.models import load_backbone
from visionlab.transfer.commands import FinetuneConfig
from visionlab.transfer.finetune import split_train_val
from visionlab.transfer.images import Decoded, decode_all, eval_transform, loader, train_transform
from visionlab.transfer.inspection import fc_parameters, layer_groups
from visionlab.transfer.training import freeze_body, optimizer

_Cfg = FinetuneConfig(lr=1e-3, lr_backbone=1e-4, weight_decay=0.0)


def replace_head(backbone, n_classes: int):
    return backbone.spec.new_head(backbone.net, n_classes)


def Batches(data: Decoded, transform, batch_size: int, shuffle: bool, seed: int = 0, epoch: int = 0):  # noqa: N802
    """The training batches of one process, as fine-tuning draws them."""
    return loader(data, transform, RankBatchSampler(len(data.labels), batch_size, shuffle, seed).set_epoch(epoch),
                  0, False, seed)  # fmt: skip


def test_new_head_has_the_dataset_classes_for_every_head_layout() -> None:
    for name, head_in in (("efficientnet_lite0", 1280), ("vgg16", 4096), ("resnet18", 512), ("squeezenet1_1", 512)):
        backbone = load_backbone(name, "none")
        head = replace_head(backbone, 15)
        assert head.weight.shape[:2] == (15, head_in)  # Linear, or SqueezeNet's 1x1 convolution
        assert backbone.eval()(torch.rand(2, 3, 64, 64)).shape == (2, 15)


def test_inception_trains_its_main_head_only() -> None:
    from torchvision.models import inception_v3

    from visionlab.models import Backbone, get_spec

    net = inception_v3(weights=None, aux_logits=True, init_weights=False)  # the pretrained layout, fast init
    backbone = Backbone(get_spec("inception_v3"), net, "random", False)
    replace_head(backbone, 4)
    out = backbone.train()(torch.rand(2, 3, 80, 80))
    assert out.shape == (2, 4)  # a tensor, not (logits, aux)


def test_freeze_leaves_only_the_head_trainable_and_the_optimizer_sees_only_it() -> None:
    backbone = load_backbone("efficientnet_lite0")
    head = replace_head(backbone, 10)
    freeze_body(backbone, head)
    assert count_parameters(backbone, trainable_only=True) == 1280 * 10 + 10
    opt = optimizer(backbone, head, _Cfg)
    assert len(opt.param_groups) == 1
    before = backbone.net.conv_stem.weight.clone()
    loss = backbone.train()(torch.rand(2, 3, 64, 64)).sum()
    loss.backward()
    opt.step()
    assert torch.equal(before, backbone.net.conv_stem.weight)
    assert backbone.net.conv_stem.weight.grad is None


def test_augmentation_only_on_training_images_and_shapes_agree() -> None:
    image = torch.randint(0, 256, (1, 60, 80), dtype=torch.uint8)
    plain, evaluation = train_transform(48, "center", augment=False), eval_transform(48, "center")
    assert torch.equal(plain(image), evaluation(image))
    torch.manual_seed(0)
    aug = train_transform(48, "center", augment=True)
    a, b = aug(image), aug(image)
    assert a.shape == (3, 48, 48) and not torch.equal(a, b)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_decode_once_then_split_train_val_by_seed() -> None:
    images = torch.randint(0, 256, (50, 1, 28, 28), dtype=torch.uint8)
    labels = torch.arange(50) % 5
    decoded = decode_all(TensorImages(images, labels), 32, "center", workers=0)
    assert len(decoded.images) == 50 and decoded.images[0].shape == (1, 37, 37)  # 32 * 256/224
    train, val = split_train_val(decoded, 0.2, seed=0)
    assert len(train.labels) == 40 and len(val.labels) == 10
    assert torch.bincount(val.labels).tolist() == [2] * 5
    batches = list(Batches(val, eval_transform(32, "center"), 4, shuffle=False))
    assert [len(y) for _, y in batches] == [4, 4, 2] and batches[0][0].shape == (4, 3, 32, 32)


def test_batches_order_depends_on_seed_and_epoch() -> None:
    data = Decoded([torch.full((1, 4, 4), i, dtype=torch.uint8) for i in range(8)], torch.arange(8))
    tf = eval_transform(4, "center")

    def order(epoch: int) -> list[int]:
        b = Batches(data, tf, 8, shuffle=True, seed=3, epoch=epoch)
        return next(iter(b))[1].tolist()

    assert order(0) == order(0) and order(0) != order(1) and sorted(order(1)) == list(range(8))


def test_vgg16_parameters_known_answer_most_in_the_classifier() -> None:
    net = load_backbone("vgg16", "none").net
    total = count_parameters(net)
    assert total == 138_357_544  # Simonyan & Zisserman's configuration D with 1,000 classes
    assert fc_parameters(net) == 102_764_544 + 16_781_312 + 4_097_000
    assert sum(p for _, p in layer_groups(net)) == total
