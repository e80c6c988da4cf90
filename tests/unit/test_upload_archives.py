"""ZIP of images and NPZ uploads: good ones load, hostile or broken ones are refused before harm is done."""
from __future__ import annotations

import dataclasses
import io
import stat
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from dlcore.data.images import image_input
from dlcore.data.limits import Limits
from dlcore.data.readers import read_bytes
from dlcore.data.upload import Choices, to_dataset, understand
from dlcore.errors import DataError


def png(value: int, size: tuple[int, int] = (12, 10), mode: str = "L") -> bytes:
    rng = np.random.default_rng(value)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], len(mode))
    arr = np.clip(rng.normal(value, 10, shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, "PNG")
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` but holds almost no pixel data (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def make_zip(members: dict[str, bytes], links: tuple[str, ...] = (), method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def classes(n: int = 12, **extra: bytes) -> dict[str, bytes]:
    members = {f"shapes/dark/{i}.png": png(40 + i) for i in range(n)}
    members.update({f"shapes/light/{i}.png": png(200 - i, mode="RGB") for i in range(n)})
    members.update(extra)
    return members


def test_zip_of_class_folders_loads_resized_with_consistent_channels_in_unit_range() -> None:
    extra = {"shapes/readme.txt": b"hi", "__MACOSX/shapes/._0.png": b"junk"}
    raw = read_bytes(make_zip(classes(notes_txt=b"x", **extra)), "pics.zip")
    preview = understand(raw)
    assert (preview.kind, preview.modality, preview.task) == ("images", "image", "classification")
    assert preview.class_counts() == {"dark": 12, "light": 12}
    assert raw.x.shape == (24, 10, 10, 3) and raw.x.dtype == np.uint8  # one grey + one RGB class -> RGB
    assert any(s.startswith("3 non-image file(s) skipped") for s in raw.skipped)
    ds = to_dataset(raw, Choices(), "pics", seed=1)
    assert ds.input_shape == (10, 10, 3) and ds.x_train.min() >= 0 and ds.x_train.max() <= 1
    dark = ds.x_train[ds.y_train == ds.class_names.index("dark")].mean()
    assert dark < 0.3 < 0.6 < ds.x_train[ds.y_train == ds.class_names.index("light")].mean()


def test_one_uploaded_image_becomes_the_same_model_input_as_in_training() -> None:
    members = classes()
    raw = read_bytes(make_zip(members), "pics.zip")
    ds = to_dataset(raw, Choices(), "pics", validation_split=0.25)
    x = np.concatenate([ds.x_train, ds.x_val])
    for name in ("shapes/dark/3.png", "shapes/light/7.png"):
        one = image_input(members[name], ds.preprocessing)
        assert one.shape == (1, *ds.input_shape)
        assert np.abs(x - one).reshape(len(x), -1).max(axis=1).min() < 1e-6  # it is one of the training inputs
    with pytest.raises(DataError, match="the file is damaged or not an image"):
        image_input(b"not an image", ds.preprocessing)


def test_corrupt_images_are_skipped_and_reported() -> None:
    broken = png(90)[:60]  # a valid header, the pixel data cut off
    bad = {"shapes/dark/bad.png": b"not an image", "shapes/light/cut.png": broken}
    raw = read_bytes(make_zip(classes(**bad)), "a.zip")
    assert raw.x.shape[0] == 24
    assert any(s.startswith("2 image(s) skipped as corrupt") and "bad.png" in s and "cut.png" in s for s in raw.skipped)


def test_images_above_the_pixel_cap_are_skipped_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    bombs = {"shapes/dark/bomb.png": png_header(50_000, 50_000), "shapes/light/wide.png": png_header(5000, 4000)}
    raw = read_bytes(make_zip(classes(**bombs)), "a.zip")
    assert raw.x.shape[0] == 24
    skipped = "2 image(s) skipped as too large, over 16,777,216 pixels: shapes/dark/bomb.png, shapes/light/wide.png"
    assert any(s.startswith(skipped) for s in raw.skipped)
    monkeypatch.setenv("DLCORE_MAX_IMAGE_PIXELS", "100")  # now every 12x10 image is above the cap
    with pytest.raises(DataError, match=r"the ZIP has 2 image\(s\) that could not be read"):
        read_bytes(make_zip({"a/x.png": png(1), "b/y.png": png(2)}), "a.zip")


@pytest.mark.parametrize("name", ["../evil.png", "/etc/evil.png", "a/../../evil.png", "C:/evil.png"])
def test_paths_outside_the_archive_are_refused(name: str) -> None:
    with pytest.raises(DataError, match="a path outside the archive"):
        read_bytes(make_zip(classes(**{name: png(1)})), "a.zip")


def test_symlinks_are_refused() -> None:
    with pytest.raises(DataError, match="symbolic link 'shapes/dark/link.png'"):
        read_bytes(make_zip(classes(), links=("shapes/dark/link.png",)), "a.zip")


@pytest.mark.parametrize("inner", ["more.zip", "data.tar.gz", "x.7z"])
def test_nested_archives_are_refused(inner: str) -> None:
    with pytest.raises(DataError, match=f"another archive 'shapes/{inner}'; nested archives are refused"):
        read_bytes(make_zip(classes(**{f"shapes/{inner}": b"PK\x03\x04"})), "a.zip")


def test_zip_bomb_ratio_is_refused_before_anything_is_decompressed(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip({"a/zeros.png": bytes(30 * 1024 * 1024), "b/x.png": png(1)}, method=zipfile.ZIP_DEFLATED)
    assert len(data) < 100_000

    def no_open(*args, **kwargs):
        raise AssertionError("a member was decompressed")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_open)
    with pytest.raises(DataError,
                       match=r"member 'a/zeros.png' unpacks to 30.0 MB from 0.0 MB .ratio over 100.*zip bomb"):
        read_bytes(data, "a.zip")


def test_total_declared_size_above_the_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    data = make_zip({f"c{k}/{i}.bin": rng.bytes(300_000) for k in range(2) for i in range(3)})
    monkeypatch.setenv("DLCORE_MAX_UNZIPPED_MB", "1")
    with pytest.raises(DataError,
                       match=r"declares 1.7 MB once unpacked, above the cap of 1.0 MB.*DLCORE_MAX_UNZIPPED_MB"):
        read_bytes(data, "a.zip")


def test_one_class_only_and_no_class_folders() -> None:
    with pytest.raises(DataError, match=r"target 'class folder' has a single class \('dark'\)"):
        understand(read_bytes(make_zip({f"dark/{i}.png": png(i) for i in range(5)}), "a.zip"))
    with pytest.raises(DataError, match="no images in class folders"):
        read_bytes(make_zip({f"{i}.png": png(i) for i in range(5)}), "a.zip")


def test_too_many_images_for_the_cap() -> None:
    with pytest.raises(DataError, match="24 images, above the cap of 15; .*DLCORE_MAX_IMAGES"):
        read_bytes(make_zip(classes()), "a.zip", dataclasses.replace(Limits(), max_images=15))


# ---------------------------------------------------------------- NPZ


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_npz_tabular_and_image_arrays_load() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    raw = read_bytes(npz(x=x, y=(x[:, 0] > 0).astype(int)), "d.npz")
    ds = to_dataset(raw)
    assert (ds.modality, ds.task, ds.input_shape, ds.class_names) == ("tabular", "classification", (4,), ("0", "1"))
    images = rng.integers(0, 256, size=(30, 8, 8, 3), dtype=np.uint8)
    ds = to_dataset(read_bytes(npz(x=images, y=np.repeat(["cat", "dog", "eel"], 10)), "i.npz"))
    assert ds.modality == "image" and ds.input_shape == (8, 8, 3) and ds.x_train.max() <= 1.0
    ds = to_dataset(read_bytes(npz(x=x, y=x[:, 1] * 3.3), "r.npz"))
    assert ds.task == "regression" and ds.y_train.dtype == np.float32


def test_a_three_axis_array_is_read_as_images_or_sequences_as_the_user_says(home, capsys) -> None:
    from dlcore.__main__ import main
    from dlcore.data.stored import DatasetStore

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 12, 9)), np.repeat([0, 1], 20)
    raw = read_bytes(npz(x=x, y=y), "s.npz")
    assert to_dataset(raw).modality == "image" and to_dataset(raw).input_shape == (12, 9, 1)  # the default
    ds = to_dataset(raw, Choices(read_as="sequence"))
    assert ds.modality == "sequence" and ds.input_shape == (12, 9)
    np.testing.assert_allclose(np.sort(np.concatenate([ds.x_train, ds.x_val]).ravel()), np.sort(x.ravel()), rtol=1e-6)
    thin = read_bytes(npz(x=rng.normal(size=(40, 30, 2)), y=y), "t.npz")
    assert to_dataset(thin).modality == "sequence" and to_dataset(thin, Choices(read_as="image")).modality == "image"
    with pytest.raises(DataError,
                       match=r"only arrays shaped \(n, a, b\) can be read either way; x is shaped \(40, 4\)"):
        understand(read_bytes(npz(x=rng.normal(size=(40, 4)), y=y), "f.npz"), Choices(read_as="sequence"))
    with pytest.raises(DataError, match="too thin to be images; read it as sequences"):
        understand(read_bytes(npz(x=rng.normal(size=(40, 30, 1)), y=y), "o.npz"), Choices(read_as="image"))

    DatasetStore(home).save("seq", npz(x=x, y=y), "s.npz", Choices(read_as="sequence"))
    assert DatasetStore(home).load("seq").modality == "sequence"  # a restart reads it the same way
    (home / "s.npz").write_bytes(npz(x=x, y=y))
    assert main(["validate", str(home / "s.npz"), "--read-as", "sequence", "--json"]) == 0
    assert '"modality": "sequence"' in capsys.readouterr().out


def test_npz_object_arrays_are_never_unpickled() -> None:
    objects = np.array([{"a": 1}] * 20, dtype=object)
    with pytest.raises(DataError, match="object array, which only loads by unpickling"):
        read_bytes(npz(x=objects, y=np.arange(20)), "d.npz")


def test_npz_missing_arrays_length_mismatch_and_non_finite() -> None:
    with pytest.raises(DataError, match=r"the .npz has no 'y' array \(it holds \['features', 'x'\]\)"):
        read_bytes(npz(x=np.zeros((5, 2)), features=np.zeros(5)), "d.npz")
    with pytest.raises(DataError, match="x has 10 rows but y has 9"):
        read_bytes(npz(x=np.zeros((10, 2)), y=np.zeros(9)), "d.npz")
    x = np.zeros((10, 2))
    x[3, 1], x[4, 0] = np.nan, np.inf
    with pytest.raises(DataError, match=r"x holds 2 non-finite values \(NaN or inf\)"):
        read_bytes(npz(x=x, y=np.zeros(10)), "d.npz")
    with pytest.raises(DataError, match="not a ZIP archive"):
        read_bytes(b"\x93NUMPY not really", "d.npz")
