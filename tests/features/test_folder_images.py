"""Image folders: undecodable files are skipped and reported; every row maps back to its image file."""

import numpy as np
import pytest
from PIL import Image

from studykit.features.default import image_transform
from studykit.features.extract import ExtractConfig, extract_features
from studykit.features.images import row_image, row_source
from studykit.features.sources import folder_splits


@pytest.fixture
def image_root(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "data"
    for split, n in (("train", 6), ("test", 3)):
        for cls in ("cat", "dog"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(folder / f"{i}.png")
    (root / "train" / "dog" / "2_broken.png").write_bytes(b"not a png at all")
    return root


def test_broken_images_are_reported_and_rows_map_back_to_files(image_root, tmp_path, tiny_net):
    splits, classes, info = folder_splits(image_root, image_transform(12, 1), val_fraction=0.25, seed=0)
    assert classes == ("cat", "dog") and set(splits) == {"train", "val", "test"}
    store = extract_features(tiny_net, splits, tmp_path / "fs", classes=classes, model_info={"spec": "tiny"},
                             dataset_info=info, config=ExtractConfig(batch_size=3), progress=False)
    assert store.meta["input_shape"] == [1, 12, 12]                   # what the model was given
    failed = [f for s in store.meta["splits"].values() for f in s["failed"]]
    assert [f["path"] for f in failed] == ["train/dog/2_broken.png"]
    assert "UnidentifiedImageError" in failed[0]["error"] or "cannot identify" in failed[0]["error"]
    rows = sum(s["rows"] for s in store.meta["splits"].values())
    assert rows == 6 * 2 + 3 * 2                                    # 19 files, one broken
    for split in ("train", "val", "test"):
        X, y = store.split(split)
        for row in range(len(y)):
            path = row_source(store, split, row)
            assert path.split("/")[1] == classes[y[row]]             # the label is the file's class folder
            np.testing.assert_array_equal(np.asarray(row_image(store, split, row)),
                                          np.asarray(Image.open(image_root / path)))


def test_folder_without_train_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected a folder with train/"):
        folder_splits(tmp_path, image_transform(12, 1))
