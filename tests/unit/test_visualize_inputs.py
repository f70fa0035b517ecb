"""Image arguments: bundled photos with their classes, folders with labels.csv, unreadable files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.errors import MissingDataError
from visionlab.visualize.inputs import load_inputs


def _prep(image: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.interpolate(image[None].float() / 255, size=(16, 16))[0]


def _write(path, colour: int) -> None:
    Image.fromarray(np.full((20, 24, 3), colour, dtype=np.uint8)).save(path)


def test_bundled_photos_carry_their_imagenet_classes() -> None:
    inputs = load_inputs(["bundled:coffee", "bundled:cat"], _prep)
    assert inputs.names == ["coffee", "cat"]
    assert inputs.labels == [967, 281] and 282 in inputs.accept[1]
    assert inputs.images.shape == (2, 3, 16, 16)
    assert "bundled" in inputs.source


def test_folder_with_labels_csv_skips_unreadable_files(tmp_path) -> None:
    (tmp_path / "images").mkdir()
    _write(tmp_path / "images" / "a.png", 10)
    _write(tmp_path / "images" / "b.png", 200)
    (tmp_path / "images" / "c.png").write_bytes(b"not an image")
    (tmp_path / "labels.csv").write_text("filename,class_index\na.png,3\nb.png,76\nc.png,5\n")
    with pytest.warns(UserWarning, match="c.png"):
        inputs = load_inputs([str(tmp_path)], _prep, size=8, limit=0)
    assert inputs.names == ["a.png", "b.png"] and inputs.labels == [3, 76]
    assert inputs.skipped == ["c.png"] and inputs.images.shape == (2, 3, 8, 8)
    assert inputs.images[1].mean() > inputs.images[0].mean()
    assert load_inputs([str(tmp_path)], _prep, limit=1).names == ["a.png"]
    assert load_inputs(["bundled:all"], _prep, limit=3).names == ["cat", "rocket", "palace"]  # evenly spread


def test_an_unreadable_file_argument_is_missing_data_naming_it(tmp_path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"nope")
    with pytest.raises(MissingDataError, match="broken.jpg"):
        load_inputs([str(bad)], _prep)
