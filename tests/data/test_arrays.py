"""Array inputs (.npy / .npz / a folder of .npy windows) with labels, groups and split from a CSV or the .npz."""

import numpy as np
import pytest

from probewise.data.arrays import is_array_data, load_arrays
from probewise.errors import DataError


def _csv(path, rows, header="label,subject"):
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_npy_with_labels_csv(tmp_path):
    X = np.arange(20 * 3 * 5, dtype=np.float32).reshape(20, 3, 5)
    np.save(tmp_path / "X.npy", X)
    _csv(tmp_path / "y.csv", [(["a", "b"][i % 2], f"s{i % 4}") for i in range(20)])
    ex = load_arrays(tmp_path / "X.npy", tmp_path / "y.csv", group_column="subject", seed=1)
    assert ex.modality == "tensor" and ex.classes == ("a", "b")
    assert np.array_equal(np.asarray(ex.inputs), X) and list(ex.groups[:4]) == ["s0", "s1", "s2", "s3"]
    again = load_arrays(tmp_path / "X.npy", tmp_path / "y.csv", group_column="subject", seed=1)
    assert again.fingerprint() == ex.fingerprint()


def test_npz_several_inputs_and_columns_inside(tmp_path):
    rng = np.random.default_rng(0)
    raw, spec = rng.normal(size=(12, 1, 8)).astype(np.float32), rng.normal(size=(12, 3, 8)).astype(np.float32)
    np.savez(tmp_path / "w.npz", raw_signal=raw, spectrogram=spec, label=np.array(["x", "y"] * 6),
             split=np.array(["train"] * 6 + ["val"] * 3 + ["test"] * 3))
    ex = load_arrays(tmp_path / "w.npz", split_column="split")
    assert ex.inputs.dtype.names == ("raw_signal", "spectrogram")
    assert np.array_equal(ex.inputs["spectrogram"], spec) and list(ex.split) == [0] * 6 + [1] * 3 + [2] * 3


def test_folder_of_windows(tmp_path):
    d = tmp_path / "win"
    d.mkdir()
    rows = []
    for i in range(10):
        np.save(d / f"w{i}.npy", np.full((2, 4), i, np.float32))
        rows.append((f"w{9 - i}.npy", ["rest", "task"][i % 2], f"p{i % 2}"))
    _csv(d / "labels.csv", rows, "file,label,subject")
    assert is_array_data(d) and not is_array_data(tmp_path / "x.csv")
    ex = load_arrays(d, group_column="subject")
    assert ex.inputs.shape == (10, 2, 4) and ex.inputs[0, 0, 0] == 9  # the CSV's order, not the folder's


def test_bad_inputs(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickled"):
        load_arrays(tmp_path / "obj.npy", tmp_path / "y.csv")
    np.save(tmp_path / "X.npy", np.zeros((4, 2), np.float32))
    with pytest.raises(DataError, match="give --labels CSV"):
        load_arrays(tmp_path / "X.npy")
    _csv(tmp_path / "y.csv", [("a", "s")] * 3)
    with pytest.raises(DataError, match="4 examples in X.npy but 3 values of 'label'"):
        load_arrays(tmp_path / "X.npy", tmp_path / "y.csv")
    with pytest.raises(DataError, match="no column 'grp'"):
        load_arrays(tmp_path / "X.npy", tmp_path / "y.csv", group_column="grp")
    (tmp_path / "trunc.npy").write_bytes((tmp_path / "X.npy").read_bytes()[:70])
    with pytest.raises(DataError, match="not a readable NumPy file"):
        load_arrays(tmp_path / "trunc.npy", tmp_path / "y.csv")
    d = tmp_path / "win"
    d.mkdir()
    np.save(d / "a.npy", np.zeros((2, 4)))
    np.save(d / "b.npy", np.zeros((2, 5)))
    _csv(d / "labels.csv", [("a.npy", "x"), ("b.npy", "y")], "file,label")
    with pytest.raises(DataError, match=r"b.npy is \[2, 5\]"):
        load_arrays(d)
    _csv(d / "labels.csv", [("a.npy", "x"), ("c.npy", "y")], "file,label")
    with pytest.raises(DataError, match="names 'c.npy', which is not a file"):
        load_arrays(d)
