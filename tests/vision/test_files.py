"""Image file inputs: path resolution, header scans and lazy batch decoding."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from skdl._training.data import BatchIterator
from skdl.vision._decode import decode_image
from skdl.vision._files import (
    FileImageDataset,
    ImageDecodeError,
    load_images,
    resolve_paths,
    scan_images,
)


# ------------------------------------------------------------------ helpers
def save(path: Path, array: np.ndarray, mode: str | None = None, **kw) -> str:
    """Write ``array`` as an image file and return its path as str."""
    image = Image.fromarray(array) if mode is None else Image.fromarray(array, mode)
    image.save(path, **kw)
    return str(path)


def tagged_images(folder: Path, n: int, size=(6, 5)) -> list[str]:
    """``n`` RGB PNGs whose every pixel is (10 * i, 255 - 10 * i, i)."""
    paths = []
    for i in range(n):
        array = np.empty((*size, 3), dtype=np.uint8)
        array[...] = (10 * i, 255 - 10 * i, i)
        paths.append(save(folder / f"img{i:02d}.png", array))
    return paths


def tag_of(x: torch.Tensor) -> list[int]:
    """Recover the index i of each tagged image in a batch."""
    return [round(v) for v in (x[:, 2, 0, 0] * 255).tolist()]


@pytest.fixture
def tagged(tmp_path) -> list[str]:
    return tagged_images(tmp_path, 10)


@pytest.fixture
def truncated_jpeg(tmp_path) -> str:
    rng = np.random.default_rng(0)
    path = save(tmp_path / "full.jpg", rng.integers(0, 256, (64, 64, 3), np.uint8))
    data = Path(path).read_bytes()
    target = tmp_path / "truncated.jpg"
    target.write_bytes(data[: len(data) // 2])
    return str(target)


@pytest.fixture
def text_as_png(tmp_path) -> str:
    target = tmp_path / "notes.png"
    target.write_text("this is not an image\n")
    return str(target)


# -------------------------------------------------------------- resolve_paths
def test_resolve_paths_accepts_each_input_form(tmp_path, tagged):
    paths = tagged[:3]
    as_path = [Path(p) for p in paths]
    forms = [
        paths,
        tuple(paths),
        as_path,
        np.array(paths),
        np.array(paths, dtype=object),
        np.array(paths)[:, None],
        pd.Series(paths),
        pd.Series(paths, dtype="string"),
        pd.DataFrame({"anything": paths}),
        pd.DataFrame({"label": ["a", "b", "c"], "path": paths}),
        pd.DataFrame({"label": ["a", "b", "c"], "Filename": paths}),
    ]
    for X in forms:
        assert resolve_paths(X) == paths, type(X)
    frame = pd.DataFrame({"label": ["a", "b", "c"], "img": paths, "other": paths})
    assert resolve_paths(frame, path_column="img") == paths


def test_resolve_paths_makes_relative_paths_absolute(tmp_path, tagged, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = [Path(p).name for p in tagged[:2]]
    assert resolve_paths(names) == tagged[:2]


@pytest.mark.parametrize(
    "X",
    [
        np.zeros((3, 4, 4)),
        np.zeros((3, 1)),
        [[0.0, 1.0], [2.0, 3.0]],
        pd.Series([1.0, 2.0]),
        pd.DataFrame(np.zeros((2, 5))),
        pd.DataFrame({"pixel": [0.0, 1.0]}),
        torch.zeros(2, 1, 4, 4),
    ],
    ids=["array", "column", "nested", "series", "frame", "one-column", "tensor"],
)
def test_resolve_paths_returns_none_for_non_file_input(X):
    assert resolve_paths(X) is None


def test_resolve_paths_errors(tmp_path, tagged):
    with pytest.raises(ValueError, match="empty"):
        resolve_paths([])
    with pytest.raises(ValueError, match="entry 1 is None"):
        resolve_paths([tagged[0], None])
    with pytest.raises(ValueError, match="entry 1 is nan"):
        resolve_paths(pd.Series([tagged[0], np.nan]))
    with pytest.raises(ValueError, match="single path"):
        resolve_paths(tagged[0])
    frame = pd.DataFrame({"a": tagged[:2], "b": ["x", "y"]})
    with pytest.raises(ValueError, match=r"path_column.*") as info:
        resolve_paths(frame)
    assert "['a', 'b']" in str(info.value)
    with pytest.raises(ValueError, match="'c' is not a column"):
        resolve_paths(frame, path_column="c")


def test_resolve_paths_names_missing_files(tmp_path, tagged):
    missing = [str(tmp_path / f"gone{i}.png") for i in range(7)]
    with pytest.raises(FileNotFoundError) as info:
        resolve_paths(tagged[:3] + missing)
    message = str(info.value)
    assert "7 of 10" in message
    assert missing[0] in message and "and 2 more" in message
    assert missing[6] not in message
    with pytest.raises(FileNotFoundError, match="not files"):
        resolve_paths([str(tmp_path)])


# ---------------------------------------------------------------- scan_images
def odd_images(folder: Path) -> dict[str, str]:
    """One small file per interesting PIL mode."""
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8)
    rgb = np.stack([gray, gray[::-1], 255 - gray], axis=2)
    paths = {
        "L": save(folder / "gray.png", gray),
        "1": save(folder / "bilevel.png", gray > 20),
        "I;16": save(folder / "deep.png", gray.astype(np.uint16) * 1000),
        "LA": save(folder / "gray_alpha.png", np.stack([gray, gray], 2), "LA"),
        "RGB": save(folder / "rgb.jpg", rgb),
        "RGBA": save(folder / "rgba.png", np.dstack([rgb, gray])),
        "CMYK": save(folder / "cmyk.jpg", np.dstack([rgb, gray]), "CMYK"),
    }
    palette = Image.fromarray(rgb).convert("P")
    palette.save(folder / "palette.gif", transparency=0)
    paths["P"] = str(folder / "palette.gif")
    # Per-entry alpha bytes: PIL warns when this is converted straight to RGB.
    palette.save(folder / "palette.png", transparency=bytes([0, 128] + [255] * 254))
    paths["P;alpha"] = str(folder / "palette.png")
    return paths


def test_scan_images_modes(tmp_path):
    paths = odd_images(tmp_path)
    for mode, path in paths.items():
        with Image.open(path) as im:
            assert im.mode == mode.split(";alpha")[0], path
    gray = [paths[m] for m in ("L", "1", "I;16", "LA")]
    scan = scan_images(gray)
    assert (scan.mode, scan.n_channels) == ("L", 1)
    assert scan.sizes == {(6, 8): 4} and scan.size == (6, 8)
    assert scan.source_modes == {"L": 1, "1": 1, "I;16": 1, "LA": 1}
    for colour in ("RGB", "RGBA", "CMYK", "P", "P;alpha"):
        scan = scan_images([*gray, paths[colour]])
        assert (scan.mode, scan.n_channels) == ("RGB", 3), colour
    save(tmp_path / "big.png", np.zeros((9, 4), np.uint8))
    scan = scan_images([paths["L"], str(tmp_path / "big.png"), paths["RGB"]])
    assert scan.sizes == {(6, 8): 2, (9, 4): 1} and scan.size is None
    assert scan.n_images == 3


def test_scan_images_errors_name_the_file(tmp_path, text_as_png, tagged):
    with pytest.raises(ImageDecodeError, match="notes.png") as info:
        scan_images([tagged[0], text_as_png])
    assert isinstance(info.value, OSError) and isinstance(info.value, ValueError)
    with pytest.raises(ImageDecodeError, match="gone.png"):
        scan_images([str(tmp_path / "gone.png")])
    with pytest.raises(ValueError, match="at least one"):
        scan_images([])


# -------------------------------------------------------------------- decoding
def test_decoding_converts_every_mode(tmp_path):
    paths = odd_images(tmp_path)
    gray = np.arange(48, dtype=np.float32).reshape(6, 8) / 255
    for mode in ("L", "RGB"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. PIL's palette-transparency one
            x = next(FileImageDataset(list(paths.values()), mode=mode).batches(16))[0][
                "x"
            ]
        assert x.shape == (9, 1 if mode == "L" else 3, 6, 8)
        assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
        # The 8-bit gray PNG decodes exactly; channels repeat in RGB.
        assert torch.equal(x[0], torch.from_numpy(gray).expand_as(x[0]))
    # 16-bit values are scaled from their 0-65535 range, not clipped at 255.
    deep = next(FileImageDataset([paths["I;16"]], mode="L").batches(1))[0]["x"]
    expected = np.arange(48, dtype=np.float32).reshape(6, 8) * 1000 / 65535
    np.testing.assert_allclose(deep[0, 0].numpy(), expected, rtol=1e-6)
    assert deep.max() < 0.75
    # Alpha is dropped: RGBA keeps its colour channels.
    with Image.open(paths["RGBA"]) as im:
        rgb = np.asarray(im)[:, :, :3]
    rgba = next(FileImageDataset([paths["RGBA"]], mode="RGB").batches(1))[0]["x"]
    assert torch.equal(
        (rgba[0] * 255).round().byte().permute(1, 2, 0), torch.tensor(rgb)
    )


def test_resize_to_image_size(tmp_path, tagged):
    for image_size, shape in ((4, (4, 4)), ((3, 7), (3, 7)), (None, (6, 5))):
        dataset = FileImageDataset(tagged[:3], mode="RGB", image_size=image_size)
        x = next(dataset.batches(3))[0]["x"]
        assert x.shape == (3, 3, *shape)
        # Constant images stay constant: the tag survives resizing.
        assert tag_of(x) == [0, 1, 2]
    for bad in (0, (2, 3, 4), "big", 2.5, (True, 3)):
        with pytest.raises(ValueError, match="image_size"):
            FileImageDataset(tagged, mode="RGB", image_size=bad)


def test_large_jpeg_is_decoded_at_reduced_scale_then_resized(tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((64, 64, 1)))
    path = save(tmp_path / "big.jpg", smooth.astype(np.uint8), quality=95)
    fast = decode_image(path, "RGB", (32, 32)).astype(float)
    with Image.open(path) as im:
        slow = np.asarray(im.convert("RGB").resize((32, 32), Image.BILINEAR))
    assert fast.shape == (32, 32, 3)
    assert np.abs(fast - slow).mean() < 3


def test_mixed_sizes_need_image_size(tmp_path, tagged):
    (tmp_path / "other").mkdir()
    other = tagged_images(tmp_path / "other", 1, size=(9, 4))
    dataset = FileImageDataset([tagged[0], *other], mode="RGB")
    with pytest.raises(ValueError, match="image_size") as info:
        list(dataset.batches(2))
    message = str(info.value)
    assert "6x5" in message and "9x4" in message
    assert tagged[0] in message and other[0] in message
    resized = FileImageDataset([tagged[0], *other], mode="RGB", image_size=5)
    assert next(resized.batches(2))[0]["x"].shape == (2, 3, 5, 5)
    # Batches of one size each are fine without image_size.
    assert [b[0]["x"].shape[-2:] for b in dataset.batches(1)] == [(6, 5), (9, 4)]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_corrupt_file_error_names_the_file(
    tagged, truncated_jpeg, text_as_png, num_workers
):
    for bad in (truncated_jpeg, text_as_png):
        dataset = FileImageDataset([*tagged[:3], bad], mode="RGB")
        with pytest.raises(ImageDecodeError) as info:
            list(dataset.batches(2, num_workers=num_workers))
        assert bad in str(info.value)
        # The dataset still works afterwards (a fresh worker pool).
        good = dataset.subset(np.arange(3))
        assert len(list(good.batches(2, num_workers=num_workers))) == 2


# --------------------------------------------------------------------- batches
def test_batches_shapes_targets_and_weights(tagged):
    y = torch.arange(10) * 10
    weights = torch.linspace(0.5, 1.4, 10)
    dataset = FileImageDataset(tagged, mode="RGB", y=y, sample_weight=weights)
    assert len(dataset) == 10 and dataset.n_batches(4) == 3
    batches = list(dataset.batches(4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    for inputs, yb in batches:
        assert set(inputs) == {"x", "sample_weight"}
        x = inputs["x"]
        assert x.dtype == torch.float32 and x.shape[1:] == (3, 6, 5)
        assert x.is_contiguous() and 0 <= x.min() and x.max() <= 1
        tags = tag_of(x)
        assert yb.tolist() == [10 * t for t in tags]
        assert inputs["sample_weight"].dtype == torch.float32
        assert torch.equal(inputs["sample_weight"], weights[tags])
    assert tag_of(torch.cat([b[0]["x"] for b in batches])) == list(range(10))
    unlabeled = FileImageDataset(tagged[:2], mode="L")
    inputs, yb = next(unlabeled.batches(8))
    assert yb is None and set(inputs) == {"x"} and inputs["x"].shape == (2, 1, 6, 5)


def test_shuffle_is_reproducible_and_fresh_each_epoch(tagged):
    dataset = FileImageDataset(tagged, mode="RGB", y=torch.arange(10))

    def order(rng):
        return [t for b in dataset.batches(3, shuffle=True, rng=rng) for t in b[1]]

    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    first, second = order(rng_a), order(rng_a)
    assert first == order(rng_b) and second == order(rng_b)
    assert first != second and sorted(first) == list(range(10))
    assert first == np.random.default_rng(7).permutation(10).tolist()


def test_subset(tagged):
    dataset = FileImageDataset(
        tagged, mode="RGB", y=torch.arange(10), sample_weight=torch.arange(10.0)
    )
    part = dataset.subset(np.array([7, 2, 5]))
    assert isinstance(part, FileImageDataset) and len(part) == 3
    inputs, yb = next(part.batches(8))
    assert tag_of(inputs["x"]) == [7, 2, 5]
    assert yb.tolist() == [7, 2, 5]
    assert inputs["sample_weight"].tolist() == [7.0, 2.0, 5.0]


def test_transform_is_called_only_when_given(tagged):
    calls = []

    def transform(inputs, yb):
        calls.append(len(yb))
        return {"x": inputs["x"] * 0}, yb + 100

    dataset = FileImageDataset(tagged, mode="RGB", y=torch.arange(10))
    plain = list(dataset.batches(4))
    assert calls == [] and plain[0][0]["x"].sum() > 0
    out = list(dataset.batches(4, transform=transform))
    assert calls == [4, 4, 2]
    assert all(b[0]["x"].sum() == 0 for b in out) and out[0][1].tolist()[0] == 100


def test_batch_iterator_drives_the_dataset(tagged):
    dataset = FileImageDataset(tagged, mode="RGB", y=torch.arange(10))
    iterator = BatchIterator(dataset, 4, shuffle=True, rng=np.random.default_rng(0))
    assert len(iterator) == 3
    seen = [t for _, yb in iterator for t in yb.tolist()]
    assert sorted(seen) == list(range(10))


def test_invalid_arguments(tagged):
    with pytest.raises(ValueError, match="mode"):
        FileImageDataset(tagged, mode="RGBA")
    with pytest.raises(ValueError, match="y has 3 rows"):
        FileImageDataset(tagged, mode="RGB", y=torch.arange(3))
    with pytest.raises(ValueError, match="sample_weight has 2 rows"):
        FileImageDataset(tagged, mode="RGB", sample_weight=np.ones(2))


# --------------------------------------------------------------------- workers
def test_workers_give_the_same_batches(tagged):
    # Torch already ran multi-threaded here; forked workers must still work.
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    torch.randn(200, 200) @ torch.randn(200, 200)
    torch.set_num_threads(threads)
    y = torch.arange(10)
    weights = torch.rand(10)
    dataset = FileImageDataset(
        tagged, mode="RGB", image_size=(4, 3), y=y, sample_weight=weights
    )
    rng_serial, rng_parallel = np.random.default_rng(1), np.random.default_rng(1)
    orders = []
    for epoch in range(2):
        serial = list(dataset.batches(3, shuffle=True, rng=rng_serial))
        parallel = list(
            dataset.batches(3, shuffle=True, rng=rng_parallel, num_workers=2)
        )
        assert len(serial) == len(parallel) == 4
        for (a, ya), (b, yb) in zip(serial, parallel):
            assert torch.equal(a["x"], b["x"]) and torch.equal(ya, yb)
            assert torch.equal(a["sample_weight"], b["sample_weight"])
        orders.append(torch.cat([yb for _, yb in parallel]).tolist())
        if epoch == 0:
            pool = dataset._pool
            assert pool is not None
    assert orders[0] != orders[1]
    # The worker pool persists across passes instead of restarting.
    assert dataset._pool is pool


def test_close_stops_the_workers(tagged):
    dataset = FileImageDataset(tagged, mode="RGB")
    with dataset:
        first = list(dataset.batches(4, num_workers=2))
        processes = dataset._pool.loader._iterator._workers
        assert all(p.is_alive() for p in processes)
    assert dataset._pool is None
    assert not any(p.is_alive() for p in processes)
    # Still usable: a later pass starts new workers.
    again = list(dataset.batches(4, num_workers=2))
    assert all(torch.equal(a[0]["x"], b[0]["x"]) for a, b in zip(first, again))
    dataset.close()


def test_dataset_holds_paths_not_pixels(tmp_path):
    rng = np.random.default_rng(0)
    paths = [
        save(tmp_path / f"big{i}.png", rng.integers(0, 256, (256, 256, 3), np.uint8))
        for i in range(4)
    ]
    dataset = FileImageDataset(paths, mode="RGB", y=torch.arange(4))
    for _ in dataset.batches(2, num_workers=2):
        pass
    # Four decoded images would take 3 MB; the pickled dataset is tiny, and
    # picklable after a worker pass (as spawn/forkserver workers need).
    blob = pickle.dumps(dataset)
    assert len(blob) < 5_000
    copy = pickle.loads(blob)
    assert list(copy.paths) == paths and copy._pool is None
    assert torch.equal(next(copy.batches(4))[0]["x"], next(dataset.batches(4))[0]["x"])
    tensors = [v for v in vars(dataset).values() if isinstance(v, torch.Tensor)]
    assert sum(t.numel() for t in tensors) == 4  # just y


@pytest.mark.cuda
def test_workers_pin_memory_with_cuda(tagged):
    dataset = FileImageDataset(tagged, mode="RGB")
    x = next(dataset.batches(4, num_workers=2))[0]["x"]
    assert x.is_pinned()


# ----------------------------------------------------------------- load_images
def test_load_images(tmp_path, tagged):
    images = load_images(tagged[:3])
    assert images.dtype == np.uint8 and images.shape == (3, 6, 5, 3)
    assert images[:, 0, 0, 2].tolist() == [0, 1, 2]
    gray = load_images(tagged[:2], mode="L", image_size=(2, 3))
    assert gray.shape == (2, 2, 3, 1)
    deep = save(tmp_path / "deep.png", np.full((6, 5), 65535, np.uint16))
    assert load_images([deep]).max() == 255
    other = save(tmp_path / "other.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="image_size"):
        load_images([tagged[0], other])


# ------------------------------------------------------------------- real data
@pytest.mark.data
def test_hymenoptera_files(data_dir):
    root = data_dir / "images" / "hymenoptera_data" / "train"
    gif = str(root / "ants" / "imageNotFound.gif")
    jpegs = sorted(str(p) for p in (root / "bees").glob("*.jpg"))[:5]
    paths = [gif, str(root / "ants" / "formica.jpeg"), *jpegs]
    scan = scan_images(paths)
    assert scan.mode == "RGB" and scan.source_modes["P"] == 1
    assert scan.size is None and len(scan.sizes) > 1
    dataset = FileImageDataset(resolve_paths(paths), mode=scan.mode, image_size=32)
    x = torch.cat([b[0]["x"] for b in dataset.batches(4, num_workers=2)])
    assert x.shape == (7, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    with pytest.raises(ValueError, match="image_size"):
        list(FileImageDataset(paths, mode="RGB").batches(4))


def test_fit_and_predict_stop_their_workers(tagged):
    # Workers used to live on until the fitted model was garbage collected.
    import multiprocessing

    from skdl import ImageClassifier

    before = set(multiprocessing.active_children())
    y = np.arange(len(tagged)) % 2
    clf = ImageClassifier(num_workers=2, max_epochs=2, batch_size=4, random_state=0)
    clf.fit(tagged, y)
    assert set(multiprocessing.active_children()) - before == set()
    assert clf.predict(tagged).shape == (len(tagged),)
    assert set(multiprocessing.active_children()) - before == set()
