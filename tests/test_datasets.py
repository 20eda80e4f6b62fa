"""Loaders of the real datasets, and their checks on corrupt or missing files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from skdl.datasets import (
    FASHION_MNIST_CLASSES,
    get_data_home,
    load_cifar10_subset,
    load_fashion_mnist,
    load_hymenoptera,
    load_image_folder,
    load_mnist,
)


def write_idx(path: Path, magic: int, array: np.ndarray, count=None) -> None:
    """Write ``array`` (uint8) as a gzipped IDX file, optionally lying about count."""
    header = [magic, len(array) if count is None else count, *array.shape[1:]]
    data = np.array(header, dtype=">u4").tobytes() + array.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as f:
        f.write(data)


@pytest.fixture
def fake_home(tmp_path) -> Path:
    """A data home holding a tiny, valid MNIST: 5 images, labels 0-4."""
    folder = tmp_path / "images" / "mnist"
    folder.mkdir(parents=True)
    images = np.arange(5 * 28 * 28).reshape(5, 28, 28) % 256
    write_idx(folder / "train-images-idx3-ubyte.gz", 2051, images)
    write_idx(folder / "train-labels-idx1-ubyte.gz", 2049, np.arange(5))
    return tmp_path


# -------------------------------------------------------------- get_data_home
def test_get_data_home(tmp_path, monkeypatch):
    assert get_data_home(tmp_path) == tmp_path
    assert get_data_home(str(tmp_path)) == tmp_path
    monkeypatch.setenv("SKDL_DATA", str(tmp_path))
    assert get_data_home() == tmp_path
    monkeypatch.delenv("SKDL_DATA")
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    assert get_data_home().resolve() == (tmp_path / "shared" / "data").resolve()


def test_get_data_home_explains_how_to_set_it(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="SKDL_DATA") as info:
        get_data_home(missing)
    assert str(missing) in str(info.value)
    monkeypatch.setenv("SKDL_DATA", str(missing))
    with pytest.raises(FileNotFoundError, match="SKDL_DATA variable"):
        get_data_home()
    monkeypatch.delenv("SKDL_DATA")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="default location"):
        get_data_home()


# ----------------------------------------------------------------- IDX files
def test_idx_loader_on_a_small_valid_file(fake_home):
    X, y = load_mnist(data_home=fake_home)
    assert X.shape == (5, 28, 28) and X.dtype == np.uint8 and X.flags.writeable
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2, 3, 4]
    assert X[1, 0, 0] == (28 * 28) % 256
    X2, y2 = load_mnist(data_home=fake_home, n_samples=2)
    assert np.array_equal(X2, X[:2]) and y2.tolist() == [0, 1]
    X9, y9 = load_mnist(data_home=fake_home, n_samples=9)
    assert len(X9) == len(y9) == 5


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda f, a: write_idx(f, 2049, a), "magic number is 2049, expected 2051"),
        (lambda f, a: write_idx(f, 2051, a, count=9), "holds 5 of the 9"),
        (lambda f, a: write_idx(f, 2051, a, count=4), "beyond the items"),
        (lambda f, a: write_idx(f, 2051, a[:, :27]), r"shape \(27, 28\)"),
        (lambda f, a: f.write_bytes(b"not gzip at all"), "not a valid IDX"),
        (lambda f, a: f.write_bytes(gzip.compress(b"\x00\x00")), "header is"),
    ],
    ids=["magic", "short", "long", "dims", "not-gzip", "header"],
)
def test_corrupt_idx_files_are_rejected(fake_home, corrupt, message):
    path = fake_home / "images" / "mnist" / "train-images-idx3-ubyte.gz"
    corrupt(path, np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=message) as info:
        load_mnist(data_home=fake_home)
    assert str(path) in str(info.value)


def test_idx_header_claiming_billions_of_items(fake_home):
    # Reading what the header announces in one go asked for 3 TB: MemoryError.
    path = fake_home / "images" / "mnist" / "train-images-idx3-ubyte.gz"
    write_idx(path, 2051, np.zeros((5, 28, 28), np.uint8), count=4_000_000_000)
    with pytest.raises(ValueError, match="holds 5 of the 4000000000 items") as info:
        load_mnist(data_home=fake_home)
    assert str(path) in str(info.value)


def test_truncated_gzip_and_mismatched_labels(fake_home):
    folder = fake_home / "images" / "mnist"
    labels = folder / "train-labels-idx1-ubyte.gz"
    write_idx(labels, 2049, np.arange(4))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        load_mnist(data_home=fake_home)
    write_idx(labels, 2049, np.array([0, 1, 2, 3, 12]))
    with pytest.raises(ValueError, match="labels must be 0-9"):
        load_mnist(data_home=fake_home)
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:-20])
    with pytest.raises(ValueError, match="not a valid IDX"):
        load_mnist(data_home=fake_home)


def test_idx_argument_errors(fake_home):
    with pytest.raises(ValueError, match="split"):
        load_mnist("valid", data_home=fake_home)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_samples"):
            load_mnist(data_home=fake_home, n_samples=bad)
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        load_mnist("test", data_home=fake_home)


# --------------------------------------------------------------- image folders
def test_load_image_folder(tmp_path):
    for rel in [
        "b/2.png",
        "b/1.JPG",
        "a/x.jpeg",
        "a/deep/y.gif",
        "a/notes.txt",
        "a/.hidden.png",
        "loose.png",
        ".git/z.png",
        "c/readme.md",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    frame = load_image_folder(tmp_path)
    assert list(frame.columns) == ["path", "label"]
    expected = ["a/deep/y.gif", "a/x.jpeg", "b/1.JPG", "b/2.png"]
    assert frame["path"].tolist() == [str(tmp_path / rel) for rel in expected]
    assert frame["label"].tolist() == ["a", "a", "b", "b"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="No images"):
        load_image_folder(tmp_path / "c")


# ------------------------------------------------------------------ real data
@pytest.mark.data
def test_fashion_mnist(data_dir):
    X, y = load_fashion_mnist(data_home=data_dir)
    assert X.shape == (60000, 28, 28) and X.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [6000] * 10
    assert y[0] == 9 and FASHION_MNIST_CLASSES[y[0]] == "Ankle boot"
    assert 0 < X.mean() < 255 and X.max() == 255
    X_test, y_test = load_fashion_mnist("test", data_home=data_dir, n_samples=50)
    assert X_test.shape == (50, 28, 28) and y_test[0] == 9
    head, head_y = load_fashion_mnist(data_home=data_dir, n_samples=100)
    assert np.array_equal(head, X[:100]) and np.array_equal(head_y, y[:100])


@pytest.mark.data
def test_mnist(data_dir):
    X, y = load_mnist(data_home=data_dir, n_samples=1000)
    assert X.shape == (1000, 28, 28) and X.dtype == np.uint8
    assert y.dtype == np.int64 and y[:5].tolist() == [5, 0, 4, 1, 9]
    assert set(np.unique(y)) == set(range(10))
    X_test, y_test = load_mnist("test", data_home=data_dir)
    assert X_test.shape == (10000, 28, 28) and y_test[:3].tolist() == [7, 2, 1]


@pytest.mark.data
def test_hymenoptera(data_dir):
    train = load_hymenoptera(data_home=data_dir)
    assert len(train) == 245
    assert train["label"].value_counts().to_dict() == {"ants": 124, "bees": 121}
    names = {Path(p).name for p in train["path"]}
    assert {"imageNotFound.gif", "formica.jpeg"} <= names
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in train["path"])
    val = load_hymenoptera("val", data_home=data_dir)
    assert len(val) == 153 and set(val["label"]) == {"ants", "bees"}
    with pytest.raises(ValueError, match="split"):
        load_hymenoptera("test", data_home=data_dir)


@pytest.mark.data
def test_cifar10_subset(data_dir):
    train = load_cifar10_subset(data_home=data_dir)
    counts = train["label"].value_counts()
    assert len(counts) == 10 and (counts == 500).all()
    assert sorted(counts.index)[:2] == ["airplane", "automobile"]
    assert train["path"].is_monotonic_increasing
    test = load_cifar10_subset("test", data_home=data_dir)
    assert len(test) == 1000 and (test["label"].value_counts() == 100).all()


def test_a_data_folder_without_the_dataset_says_what_it_must_hold(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder that holds images/"):
        load_mnist("train", data_home=tmp_path)
