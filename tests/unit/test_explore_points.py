"""Issue 18 item 7: search points by id, label or metadata, and their thumbnails (explore_points)."""

from __future__ import annotations

import base64
import io

import numpy as np
import polars as pl
import pytest
from PIL import Image

from analysis.data import Embedding
from analysis.panels import explore_points as points


def _emb(metadata: pl.DataFrame | None = None) -> Embedding:
    n = 6 if metadata is None else metadata.height
    return Embedding(X=np.zeros((n, 2), dtype=np.float32), labels=np.array([0, 1, 2, 0, 1, 2])[:n],
                     label_names=("cat", "dog", "Concatenate"), metadata=metadata)


META = pl.DataFrame({"id": [10, 11, 12, 112, 120, 5], "text": ["a black Cat", "dog", None, "catalogue", "x", "y"],
                     "score": [0.5, 1.0, 12.0, 3.0, 4.0, 5.0]})


def test_search_columns_offer_any_id_label_and_metadata_but_not_pictures() -> None:
    meta = META.with_columns(pl.Series("image", [b"\x89PNG\r\n\x1a\n"] * 6))
    assert points.search_columns(_emb(meta)) == ["any column", "id", "label", "text", "score"]
    assert points.search_columns(_emb()) == ["any column", "id", "label"]


def test_text_matches_anywhere_ignoring_case_and_numbers_match_exactly() -> None:
    emb = _emb(META)
    assert points.search_rows(emb, "cat", "text").tolist() == [0, 3]  # "a black Cat", "catalogue"
    assert points.search_rows(emb, "CAT", "label").tolist() == [0, 2, 3, 5]  # "cat" and "Concatenate"
    assert points.search_rows(emb, "12", "id").tolist() == [2]  # id 12, not 112 or 120
    assert points.search_rows(emb, "12", "score").tolist() == [2]
    assert points.search_rows(emb, "12, 5", "id").tolist() == [2, 5]  # commas: any of the terms
    # any column: id 12 (row 2), score 12.0 (row 2), no text or label contains "12"
    assert points.search_rows(emb, "12").tolist() == [2]
    assert points.search_rows(emb, "dog").tolist() == [1, 4]  # row 1 by text and label, row 4 by label
    assert points.search_rows(emb, "  ,  ").size == 0
    assert points.search_rows(_emb(), "3", "id").tolist() == [3]  # without an id column: the row number


def test_an_unknown_column_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="choose one of any column, id, label"):
        points.search_rows(_emb(), "x", "nope")


def _decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def test_digit_thumbnails_are_the_load_digits_images_scaled() -> None:
    from sklearn.datasets import load_digits

    meta = pl.DataFrame({"digit": ["0", "7"], "source_index": [0, 17]})
    emb = Embedding(X=np.zeros((2, 2), dtype=np.float32), metadata=meta)
    assert points.has_thumbnails(emb)
    first, second = points.thumbnail_uris(emb, np.array([0, 1]))
    image = _decode(second)
    assert image.shape == (points.DIGIT_THUMBNAIL_PIXELS, points.DIGIT_THUMBNAIL_PIXELS)
    digit = load_digits().images[17]
    expected = np.round(255 - digit * 255 / 16).astype(np.uint8)
    np.testing.assert_array_equal(image[::4, ::4], expected)  # each digit pixel is a 4 x 4 block
    np.testing.assert_array_equal(image[3::4, 3::4], expected)
    assert not np.array_equal(_decode(first), image)


def test_an_image_column_is_shown_only_as_inline_pictures() -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.full((3, 3), 200, dtype=np.uint8)).save(buffer, format="PNG")
    png = buffer.getvalue()
    inline = "data:image/png;base64," + base64.b64encode(png).decode()
    meta = pl.DataFrame({"image": [png, b"not an image", None]})
    emb = Embedding(X=np.zeros((3, 2), dtype=np.float32), metadata=meta)
    assert points.thumbnail_uris(emb, np.array([0, 1, 2])) == [inline, None, None]
    assert points.thumbnails(emb, np.array([0]))[0] == png
    text = pl.DataFrame({"image": [inline, "/etc/passwd", "https://example.com/a.png"]})
    emb = Embedding(X=np.zeros((3, 2), dtype=np.float32), metadata=text)
    assert points.thumbnail_uris(emb, np.array([0, 1, 2])) == [inline, None, None]  # no paths, no URLs
    assert not points.has_thumbnails(_emb(META))
