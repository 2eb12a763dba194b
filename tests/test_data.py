"Fault injection and property tests for `fae_book.data` (missing, corrupt and malformed files; batches)."
import struct

import numpy as np
import pytest
import scipy.io
import torch
from hypothesis import given, settings, strategies as st

from fae_book.data import (BINARIZED_MNIST_SHA256, DataFormatError, DataNotFoundError, ImageData, asset_path,
                           eval_batches, load_binarized_mnist, load_dataset, load_dynamic_mnist, load_labels,
                           load_mnist_arrays, load_svhn, subset, train_batches, write_fake_svhn)


def fake_mnist(n_train=12, n_test=5, seed=0):
    "Arrays in the Keras mnist.npz layout, small."
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "y_train": rng.integers(0, 10, n_train).astype(np.int64),
            "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "y_test": rng.integers(0, 10, n_test).astype(np.int64)}


def write_npz(path, **arrays):
    np.savez_compressed(path, **arrays)
    return path


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    "No $FAE_BOOK_DATA and an empty home, so nothing is found by accident."
    monkeypatch.delenv("FAE_BOOK_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


# --- missing files: clear errors, no network -------------------------------------------------

def test_dynamic_mnist_missing_names_files_and_remedy(tmp_path, no_env):
    with pytest.raises(DataNotFoundError) as e:
        load_dataset("dynamic_mnist", root=tmp_path)
    msg = str(e.value)
    assert "mnist.npz" in msg and "FAE_BOOK_DATA" in msg and str(tmp_path) in msg and "download=True" in msg
    assert isinstance(e.value, FileNotFoundError)


def test_missing_without_root_uses_env_then_cache(tmp_path, monkeypatch, no_env):
    with pytest.raises(DataNotFoundError, match=r"\.cache/fae_book"):
        load_mnist_arrays()
    monkeypatch.setenv("FAE_BOOK_DATA", str(tmp_path / "env_root"))
    with pytest.raises(DataNotFoundError, match="env_root"):
        load_mnist_arrays()


def test_svhn_missing_names_each_file(tmp_path):
    write_fake_svhn(tmp_path / "svhn")
    (tmp_path / "svhn" / "extra_32x32.mat").unlink()
    with pytest.raises(DataNotFoundError) as e:
        load_svhn(tmp_path)
    assert "extra_32x32.mat" in str(e.value) and "train_32x32.mat" not in str(e.value).split("not found")[0]


def test_binarized_mnist_missing_path(tmp_path):
    with pytest.raises(DataNotFoundError, match="binarized_mnist.npz"):
        load_binarized_mnist(tmp_path / "nothing.npz")


def test_labels_missing_is_optional_and_clear(tmp_path):
    with pytest.raises(DataNotFoundError, match="optional"):
        load_labels(tmp_path)


# --- corrupt files ------------------------------------------------------------------------

def test_truncated_mnist_npz(tmp_path):
    good = write_npz(tmp_path / "full.npz", **fake_mnist())
    (tmp_path / "mnist.npz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataFormatError, match="mnist.npz.*truncated or corrupt"):
        load_dynamic_mnist(tmp_path)


def test_garbage_mnist_npz(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"this is not a zip file" * 10)
    with pytest.raises(DataFormatError, match="mnist.npz"):
        load_mnist_arrays(tmp_path)


def test_binarized_mnist_wrong_sha(tmp_path):
    bad = tmp_path / "binarized_mnist.npz"
    data = bytearray(asset_path().read_bytes())
    data[-100] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match="sha256.*corrupt or not the original"):
        load_binarized_mnist(bad)


def test_binarized_mnist_truncated_without_sha_check(tmp_path):
    bad = tmp_path / "binarized_mnist.npz"
    bad.write_bytes(asset_path().read_bytes()[:100_000])
    with pytest.raises(DataFormatError, match="binarized_mnist.npz.*truncated or corrupt"):
        load_binarized_mnist(bad, check_sha256=False)


def test_packaged_asset_sha():
    from fae_book.data import sha256_file
    assert sha256_file(asset_path()) == BINARIZED_MNIST_SHA256


def test_corrupt_svhn_mat(tmp_path):
    folder = write_fake_svhn(tmp_path)
    f = folder / "test_32x32.mat"
    f.write_bytes(f.read_bytes()[:300])
    with pytest.raises(DataFormatError, match="test_32x32.mat"):
        load_svhn(tmp_path)


# --- wrong shapes, dtypes and values -------------------------------------------------------

def test_mnist_flattened_images_rejected(tmp_path):
    a = fake_mnist()
    a["x_train"] = a["x_train"].reshape(len(a["x_train"]), 784)
    write_npz(tmp_path / "mnist.npz", **a)
    with pytest.raises(DataFormatError, match=r"x_train.*\(12, 784\).*expected shape \(N, 28, 28\)"):
        load_dynamic_mnist(tmp_path)


def test_mnist_float_images_rejected(tmp_path):
    a = fake_mnist()
    a["x_test"] = a["x_test"] / 255.0
    write_npz(tmp_path / "mnist.npz", **a)
    with pytest.raises(DataFormatError, match="x_test.*float64.*uint8"):
        load_mnist_arrays(tmp_path)


def test_mnist_missing_key_and_bad_labels(tmp_path):
    a = fake_mnist()
    del a["y_test"]
    write_npz(tmp_path / "mnist.npz", **a)
    with pytest.raises(DataFormatError, match="lacks the arrays \\['y_test'\\]"):
        load_mnist_arrays(tmp_path)
    a = fake_mnist()
    a["y_train"][0] = 10
    write_npz(tmp_path / "mnist.npz", **a)
    with pytest.raises(DataFormatError, match="y_train.*labels in 0..9"):
        load_mnist_arrays(tmp_path)


def test_binarized_values_outside_01(tmp_path):
    x = np.zeros((4, 784), np.uint8)
    x[1, 3] = 2
    f = write_npz(tmp_path / "b.npz", train=x, valid=x[:2] * 0, test=x[:2] * 0)
    with pytest.raises(DataFormatError, match="'train' has values outside"):
        load_binarized_mnist(f, check_sha256=False)


def test_binarized_wrong_width(tmp_path):
    x = np.zeros((4, 100), np.uint8)
    f = write_npz(tmp_path / "b.npz", train=x, valid=x, test=x)
    with pytest.raises(DataFormatError, match=r"expected shape \(N, 784\)"):
        load_binarized_mnist(f, check_sha256=False)


def test_binarized_unpacked_file_accepted(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (6, 784), dtype=np.uint8)
    packed = np.packbits(x, axis=1)
    f1 = write_npz(tmp_path / "u.npz", train=x, valid=x, test=x)
    f2 = write_npz(tmp_path / "p.npz", train=packed, valid=packed, test=packed)
    d1, d2 = (load_binarized_mnist(f, check_sha256=False) for f in (f1, f2))
    assert torch.equal(d1.train, d2.train) and torch.equal(d1.train, torch.from_numpy(x).float())


def test_svhn_wrong_shape_and_labels(tmp_path):
    write_fake_svhn(tmp_path)
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": np.zeros((32, 32, 5), np.uint8), "y": np.ones((5, 1))})
    with pytest.raises(DataFormatError, match=r"train_32x32.mat: 'X' has shape \(32, 32, 5\)"):
        load_svhn(tmp_path)
    write_fake_svhn(tmp_path)
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [3]])})
    with pytest.raises(DataFormatError, match="labels in 1..10"):
        load_svhn(tmp_path)


def test_labels_wrong_shape(tmp_path):
    write_npz(tmp_path / "binarized_mnist_labels.npz", y_train=np.zeros(5, np.int64),
              y_valid=np.zeros(10_000, np.int64), y_test=np.zeros(10_000, np.int64))
    with pytest.raises(DataFormatError, match="y_train.*50000"):
        load_labels(tmp_path)


# --- working paths on synthetic files --------------------------------------------------------

def test_dynamic_mnist_from_npz_via_env(tmp_path, monkeypatch):
    a = fake_mnist()
    write_npz(tmp_path / "mnist.npz", **a)
    monkeypatch.setenv("FAE_BOOK_DATA", str(tmp_path))
    d = load_dynamic_mnist(n_valid=2, seed=3)
    assert (len(d.train), len(d.valid), len(d.test)) == (10, 2, 5)
    assert d.dynamic and d.kind == "binary" and d.image_shape == (1, 28, 28)
    assert torch.allclose(d.train * 255, torch.from_numpy(a["x_train"][:10].reshape(10, -1)).float())
    assert set(d.valid.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(d.labels["valid"], torch.from_numpy(a["y_train"][10:]))
    assert torch.equal(d.test, load_dynamic_mnist(n_valid=2, seed=3).test)
    with pytest.raises(ValueError, match="n_valid"):
        load_dynamic_mnist(n_valid=12)


def write_idx(path, arr):
    "An uncompressed IDX file (LeCun's MNIST format): zero bytes, type 0x08 = uint8, ndim, big-endian dims."
    path.write_bytes(struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
                     + arr.astype(">u1").tobytes())


def test_torchvision_layout(tmp_path):
    a = fake_mnist()
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, key in [("train-images-idx3-ubyte", "x_train"), ("train-labels-idx1-ubyte", "y_train"),
                      ("t10k-images-idx3-ubyte", "x_test"), ("t10k-labels-idx1-ubyte", "y_test")]:
        write_idx(raw / name, a[key].astype(np.uint8))
    b = load_mnist_arrays(tmp_path)
    for k in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(b[k], a[k])
    assert b["source"].endswith("raw")


def test_svhn_split_sizes_and_order(tmp_path):
    write_fake_svhn(tmp_path / "svhn", sizes=(4, 3, 50))
    d = load_svhn(tmp_path, n_valid=20)
    assert (len(d.train), len(d.valid), len(d.test)) == (4, 20, 3)
    assert "20 of 50 extra" in d.info["split"]
    X = scipy.io.loadmat(tmp_path / "svhn" / "train_32x32.mat")["X"]
    expected = torch.from_numpy(X.transpose(3, 2, 0, 1).reshape(4, -1).astype(np.float32)) / 255
    assert torch.equal(d.train, expected)
    assert d.labels["train"].tolist() == [1, 2, 3, 4]
    assert load_dataset("svhn", root=tmp_path).info["split"].startswith("4 train, 3 test, 50 of 50")


def test_subset_keeps_labels_aligned(tmp_path):
    write_npz(tmp_path / "mnist.npz", **fake_mnist())
    d = subset(load_dynamic_mnist(tmp_path, n_valid=4), n_train=3, n_valid=2, n_test=1)
    assert [len(d.train), len(d.valid), len(d.test)] == [3, 2, 1]
    assert [len(d.labels[k]) for k in ("train", "valid", "test")] == [3, 2, 1]
    assert d.to("cpu").train.device.type == "cpu"


# --- batches: properties -------------------------------------------------------------------

def id_data(n, dynamic=False):
    "Training image i is the constant i/n (or, when dynamic, a Bernoulli mean)."
    x = (torch.arange(n, dtype=torch.float32) / n)[:, None].repeat(1, 784)
    e = torch.zeros(1, 784)
    return ImageData(x, e, e, (1, 28, 28), "binary" if dynamic else "grey", dynamic, "ids")


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), seed=st.integers(0, 2**31))
def test_train_batches_is_a_permutation(n, batch_size, seed):
    data = id_data(n)
    batches = list(train_batches(data, batch_size, torch.Generator().manual_seed(seed)))
    assert all(len(b) == batch_size for b in batches[:-1]) and 0 < len(batches[-1]) <= batch_size
    ids = (torch.cat(batches)[:, 0] * n).round().long()
    assert torch.equal(ids.sort().values, torch.arange(n))
    again = torch.cat(list(train_batches(data, batch_size, torch.Generator().manual_seed(seed))))
    assert torch.equal(torch.cat(batches), again)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 50), batch_size=st.integers(1, 20))
def test_eval_batches_in_order(n, batch_size):
    x = torch.randn(n, 3)
    batches = list(eval_batches(x, batch_size))
    assert len(batches) == -(-n // batch_size)
    assert torch.equal(torch.cat(batches) if batches else x, x)


def test_dynamic_batches_resume_from_generator_state():
    data = id_data(40, dynamic=True)
    g = torch.Generator().manual_seed(5)
    list(train_batches(data, 8, g))
    state = g.get_state()
    second = torch.cat(list(train_batches(data, 8, g)))
    g2 = torch.Generator()
    g2.set_state(state)
    assert torch.equal(second, torch.cat(list(train_batches(data, 8, g2))))
    assert set(second.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        next(train_batches(id_data(5), bad, torch.Generator()))
    with pytest.raises(ValueError, match="batch_size"):
        next(eval_batches(torch.zeros(5, 2), bad))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="choose one of"):
        load_dataset("cifar10")
