"""OpenFace readers: per-frame CSV with OpenFace's leading-space names, clip tables, bad input."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avemo.errors import AvemoError, FeatureFileError, NoFaceError, ParameterError
from avemo.features.openface import (AU_COLUMNS, au_clip_statistics, au_statistic_names, read_au_clip_table,
                                     read_openface_frames)


def _write_frames(path: Path, success, seed=0, drop=(), sep=", "):
    rng = np.random.default_rng(seed)
    n = len(success)
    cols = ["frame", "face_id", "timestamp", "confidence", "success", "gaze_0_x", "pose_Tx"]
    cols += [c for c in AU_COLUMNS if c not in drop]
    data = {"frame": np.arange(1, n + 1), "face_id": np.zeros(n, int), "timestamp": np.arange(n) / 30.0,
            "confidence": np.where(np.asarray(success) == 1, 0.98, 0.0), "success": success,
            "gaze_0_x": rng.normal(size=n), "pose_Tx": rng.normal(size=n)}
    for c in AU_COLUMNS:
        if c not in drop:
            data[c] = rng.uniform(0, 5, n).round(2) if c.endswith("_r") else rng.integers(0, 2, n).astype(float)
    df = pd.DataFrame(data)[cols]
    # OpenFace writes "frame, face_id, ..." : comma + space, names with a leading space
    lines = [sep.join(cols)] + [sep.join(str(v) for v in row) for row in df.itertuples(index=False)]
    path.write_text("\n".join(lines) + "\n")
    return df


def test_frames_mean_of_successful_rows(tmp_path):
    success = [1, 1, 0, 1, 0, 1, 1, 1]
    df = _write_frames(tmp_path / "clip.csv", success)
    frames = read_openface_frames(tmp_path / "clip.csv")
    assert "AU01_r" in frames.columns and " AU01_r" not in frames.columns
    assert len(frames) == 6
    means = au_clip_statistics(frames, ("mean",))
    expected = df[np.asarray(success) == 1][list(AU_COLUMNS)].to_numpy().mean(axis=0)
    assert means.shape == (35,)
    np.testing.assert_allclose(means, expected, rtol=1e-5)
    # also works on the unfiltered frame table (filters success itself)
    all_frames = read_openface_frames(tmp_path / "clip.csv", drop_failed=False)
    assert len(all_frames) == 8
    np.testing.assert_allclose(au_clip_statistics(all_frames), expected, rtol=1e-5)


def test_more_statistics_and_names(tmp_path):
    _write_frames(tmp_path / "clip.csv", [1] * 10)
    frames = read_openface_frames(tmp_path / "clip.csv")
    stats = ("mean", "std", "max", "q90")
    v = au_clip_statistics(frames, stats)
    names = au_statistic_names(stats)
    assert v.shape == (35 * 4,) and len(names) == 35 * 4
    assert names[0] == "AU01_r_mean" and names[35] == "AU01_r_std" and names[-1] == "AU45_c_q90"
    np.testing.assert_allclose(v[70:105], frames[list(AU_COLUMNS)].max().to_numpy(), rtol=1e-6)
    with pytest.raises(ParameterError):
        au_clip_statistics(frames, ("kurtosis",))


def test_missing_au_columns_error(tmp_path):
    _write_frames(tmp_path / "clip.csv", [1, 1], drop=("AU04_r", "AU28_c"))
    with pytest.raises(FeatureFileError) as err:
        read_openface_frames(tmp_path / "clip.csv")
    msg = str(err.value)
    assert "AU04_r" in msg and "AU28_c" in msg and "-aus" in msg and "\n" not in msg


def test_no_face_tracked(tmp_path):
    _write_frames(tmp_path / "clip.csv", [0, 0, 0])
    with pytest.raises(NoFaceError, match="no face"):
        read_openface_frames(tmp_path / "clip.csv")


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(FeatureFileError, match="empty"):
        read_openface_frames(tmp_path / "empty.csv")
    with pytest.raises(FeatureFileError):
        read_openface_frames(tmp_path / "nope.csv")
    (tmp_path / "header.csv").write_text(", ".join(["frame", "success", *AU_COLUMNS]) + "\n")
    with pytest.raises(FeatureFileError, match="no frames"):
        read_openface_frames(tmp_path / "header.csv")


def test_separator_detection(tmp_path):
    df = _write_frames(tmp_path / "semi.csv", [1, 1, 1], sep=";")
    frames = read_openface_frames(tmp_path / "semi.csv")
    np.testing.assert_allclose(au_clip_statistics(frames), df[list(AU_COLUMNS)].mean().to_numpy(), rtol=1e-5)
    with pytest.raises(FeatureFileError, match="sep=';'"):
        read_openface_frames(tmp_path / "semi.csv", sep=",")


def test_clip_table_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    table = pd.DataFrame(rng.uniform(0, 1, (3, 35)), columns=list(AU_COLUMNS))
    table["name"] = ["a", "b", "c"]
    table.to_csv(tmp_path / "t.csv", sep=";", index=False)
    out = read_au_clip_table(tmp_path / "t.csv")
    assert list(out.index) == ["a", "b", "c"]
    np.testing.assert_allclose(out[list(AU_COLUMNS)].to_numpy(), table[list(AU_COLUMNS)].to_numpy())
    table.to_csv(tmp_path / "t2.csv", sep=",", index=False)
    assert read_au_clip_table(tmp_path / "t2.csv").shape == (3, 35)
    table.loc[2, "name"] = "a"
    table.to_csv(tmp_path / "dup.csv", sep=";", index=False)
    with pytest.raises(FeatureFileError, match="more than once"):
        read_au_clip_table(tmp_path / "dup.csv")
    assert issubclass(FeatureFileError, AvemoError)


@pytest.mark.corpus
def test_shared_ravdess_au_means(require_data):
    path = require_data("ravdess/openface_au_mean.csv", "RAVDESS OpenFace AU means")
    df = read_au_clip_table(path)
    assert len(df) == 1440
    assert list(df.columns[:35]) == list(AU_COLUMNS)
    feats = df[list(AU_COLUMNS)].to_numpy()
    assert feats.shape == (1440, 35) and np.isfinite(feats).all()
    assert (feats[:, :17] >= 0).all() and (feats[:, :17] <= 5).all()  # intensities 0-5
    assert (feats[:, 17:] >= 0).all() and (feats[:, 17:] <= 1).all()  # presence fractions
    assert df.index[0].startswith("01-01-")
