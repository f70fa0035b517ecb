"""classify: sensible ImageNet labels for real photos, the JSON shape of the contract."""

from __future__ import annotations

import csv
import json

import pytest

from visionlab.classify import classify
from visionlab.data import read_image
from visionlab.data.photos import PHOTOS, photo_tensor
from visionlab.models import load_backbone

from ..conftest import shared_data

CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def lite0():
    return load_backbone("efficientnet_lite0")


def test_bundled_photos_get_their_classes(lite0) -> None:
    results = classify(lite0, [photo_tensor(n) for n in PHOTOS], top=5)
    by_name = dict(zip(PHOTOS, results))
    assert by_name["cat"][0]["class_index"] in CATS
    assert by_name["coffee"][0]["label"] == "espresso"
    for name, photo in PHOTOS.items():
        assert {t["class_index"] for t in by_name[name]} & set(photo.classes), name


def test_json_lines_have_the_contract_shape(cli) -> None:
    result = cli("classify", "bundled:cat", "bundled:coffee", "--top", "3", "--json", "--device", "cpu")
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [line["image"] for line in lines] == ["bundled:cat", "bundled:coffee"]
    top = lines[0]["top"]
    assert len(top) == 3 and set(top[0]) == {"class_index", "label", "prob"}
    assert top[0]["prob"] >= top[1]["prob"] >= top[2]["prob"]
    assert lines[1]["top"][0] == {"class_index": 967, "label": "espresso", "prob": lines[1]["top"][0]["prob"]}


def test_unreadable_image_exits_3_naming_it(cli, tmp_path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"nope")
    result = cli("classify", str(bad))
    assert result.code == 3 and "broken.jpg" in result.err and result.err.count("\n") == 1


def test_imagenet_sample_accuracy_matches_published_top1(lite0) -> None:
    """Published top-1 of EfficientNet-Lite0 is about 75%; with the wrong input scaling it drops ~10 points."""
    folder = shared_data("imagenet_sample")
    with open(folder / "labels.csv") as fh:
        rows = list(csv.DictReader(fh))[::2]  # 125 photos, 125 classes
    images = [read_image(folder / "images" / r["filename"]) for r in rows]
    top1 = []
    for i in range(0, len(rows), 25):
        for r, top in zip(rows[i : i + 25], classify(lite0, images[i : i + 25], top=1)):
            top1.append(top[0]["class_index"] == int(r["class_index"]))
    assert sum(top1) / len(top1) >= 0.75
