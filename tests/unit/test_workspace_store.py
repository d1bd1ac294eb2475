"""The on-disk workspace (issue 18 item 3): ids, round trips, the size cap and the age limit."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.data import Run, load_run
from analysis.data.workspace import (
    DEFAULT_MAX_BYTES,
    StoreSettings,
    WorkspaceStore,
    check_workspace_id,
    new_workspace_id,
    settings_from_env,
)

WS = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


def _store(root: Path, **kw) -> WorkspaceStore:
    return WorkspaceStore(StoreSettings(root=root, **kw))


def _run(seed: int = 0) -> Run:
    rng = np.random.default_rng(seed)
    acts = {(layer, step): rng.normal(size=(12, 3)).astype(np.float32) for layer in ("h1", "h2") for step in (0, 5)}
    meta = pl.DataFrame({"split": ["train"] * 8 + ["test"] * 4, "text": [f"s{i}" for i in range(12)]})
    return Run(activations=acts, layers=("h1", "h2"), steps=(0, 5), labels=np.arange(12) % 3,
               label_names=("a", "b", "c"), metadata=meta, curves={"step": [0.0, 5.0], "loss": [1.0, 0.5]},
               task="toy", name="toy", classifier={5: (rng.normal(size=(3, 3)), None)})


def _age(item, seconds: float) -> None:
    """Pretend `item` was last used `seconds` ago."""
    past = time.time() - seconds
    os.utime(item.folder / "item.json", (past, past))


def test_new_ids_are_valid_and_distinct() -> None:
    ids = {new_workspace_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(check_workspace_id(i) == i for i in ids)


@pytest.mark.parametrize("bad", ["", "../" + WS[3:], WS.upper(), WS[:-1], WS + "0", "/etc/passwd",
                                 WS[:16] + "/" + WS[17:], None, 12])
def test_bad_ids_are_refused_with_the_fix(bad, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32 lower-case hex digits"):
        check_workspace_id(bad)
    store = _store(tmp_path)
    with pytest.raises(ValueError, match="not valid"):
        store.items(bad)
    with pytest.raises(ValueError, match="not valid"):
        store.save_upload(bad, key="upload:x", label="x", files={"main": ("x.npy", b"1")})
    assert not any(tmp_path.parent.glob("etc*")) and list(tmp_path.iterdir()) == []


def test_item_ids_cannot_escape(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(ValueError, match="Item id"):
        store.remove(WS, "../" + OTHER)


def test_upload_bytes_names_and_options_round_trip(tmp_path: Path) -> None:
    store = _store(tmp_path)
    main = bytes(range(256)) * 10
    result = store.save_upload(WS, key="upload:abc", label="vectors.npy",
                               files={"main": ("vectors.npy", main), "labels": ("y.txt", b"a\nb\n")},
                               options={"pooling": "mean", "drop_nonfinite": True, "label_column": None})
    assert result.evicted == ()
    items, problems = _store(tmp_path).items(WS)  # a new store object: what a restarted server reads
    assert problems == []
    [item] = items
    assert (item.kind, item.key, item.label, item.origin) == ("upload", "upload:abc", "vectors.npy", "upload")
    assert item.upload_bytes("main") == main and item.upload_bytes("labels") == b"a\nb\n"
    assert dict(item.file_names) == {"main": "vectors.npy", "labels": "y.txt"}
    assert dict(item.options) == {"pooling": "mean", "drop_nonfinite": True, "label_column": None}
    assert item.size_bytes >= len(main)
    # Another workspace sees nothing of it.
    assert store.items(OTHER) == ([], [])


def test_saving_the_same_dataset_again_replaces_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.save_upload(WS, key="upload:abc", label="first", files={"main": ("a.npy", b"1")})
    store.save_upload(WS, key="upload:abc", label="second", files={"main": ("a.npy", b"22")})
    [item] = store.items(WS)[0]
    assert item.label == "second" and item.upload_bytes("main") == b"22"


def test_a_run_round_trips_as_a_run_file_with_its_metadata(tmp_path: Path) -> None:
    store = _store(tmp_path)
    run = _run()
    store.save_run(WS, key="trained:1", label="lab #1 (trained)", run=run)
    [item] = store.items(WS)[0]
    assert item.kind == "run" and item.origin == "trained" and item.run_path.name == "run.safetensors"
    assert item.sidecar_path is not None
    back = load_run(item.run_path)
    assert back.layers == run.layers and back.steps == run.steps and back.label_names == run.label_names
    for key, arr in run.activations.items():
        np.testing.assert_array_equal(back.activations[key], arr)
    np.testing.assert_array_equal(back.labels, run.labels)
    assert back.metadata.equals(run.metadata) and back.splits() == run.splits()
    assert back.curves == run.curves and back.task == "toy"
    np.testing.assert_array_equal(back.classifier[5][0], run.classifier[5][0])
    # No pickle anywhere: only the manifest, the safetensors file and the parquet sidecar.
    assert sorted(p.name for p in item.folder.iterdir()) == ["item.json", "run.parquet", "run.safetensors"]


def test_the_cap_evicts_the_least_recently_used_and_says_which(tmp_path: Path) -> None:
    store = _store(tmp_path, max_bytes=5_000)
    old = store.save_upload(OTHER, key="upload:old", label="old", files={"main": ("o.npy", b"o" * 2_000)}).item
    mid = store.save_upload(WS, key="upload:mid", label="mid", files={"main": ("m.npy", b"m" * 2_000)}).item
    _age(old, 300)
    _age(mid, 100)
    result = store.save_upload(WS, key="upload:new", label="new", files={"main": ("n.npy", b"n" * 2_000)})
    assert [e.label for e in result.evicted] == ["old"]  # the least recently used, of any workspace
    assert not old.folder.exists() and mid.folder.exists()
    assert store.total_bytes() <= 5_000
    # Used since: mid becomes the newest, so the next save evicts "new" instead (aged explicitly: a
    # file system's time stamps may be too coarse to order two writes a millisecond apart).
    _age(result.item, 50)
    store.touch(mid)
    result = store.save_upload(WS, key="upload:fourth", label="fourth", files={"main": ("f.npy", b"f" * 2_000)})
    assert [e.label for e in result.evicted] == ["new"]
    assert {i.label for i in store.items(WS)[0]} == {"mid", "fourth"}


def test_an_item_larger_than_the_cap_is_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    store = _store(tmp_path, max_bytes=3_000)
    store.save_upload(WS, key="upload:small", label="small", files={"main": ("s.npy", b"s" * 1_000)})
    with pytest.raises(ValueError, match=r"huge\.npy.*more than the whole workspace.*REPLENS_WORKSPACE_MAX"):
        store.save_upload(WS, key="upload:huge", label="huge.npy", files={"main": ("h.npy", b"h" * 4_000)})
    assert [i.label for i in store.items(WS)[0]] == ["small"]
    assert not [p for p in (tmp_path / WS).iterdir() if p.name.startswith(".staging")]


def test_cleanup_removes_only_old_items_and_stale_staging(tmp_path: Path) -> None:
    store = _store(tmp_path, max_age_days=30)
    old = store.save_upload(WS, key="upload:old", label="old", files={"main": ("o.npy", b"o")}).item
    fresh = store.save_upload(WS, key="upload:fresh", label="fresh", files={"main": ("f.npy", b"f")}).item
    lonely = store.save_upload(OTHER, key="upload:l", label="lonely", files={"main": ("l.npy", b"l")}).item
    _age(old, 31 * 86400)
    _age(fresh, 29 * 86400)
    _age(lonely, 40 * 86400)
    stale = tmp_path / WS / ".staging-dead"
    stale.mkdir()
    past = time.time() - 7200
    os.utime(stale, (past, past))
    unrelated = tmp_path / "notes.txt"  # a root shared with other files keeps them
    unrelated.write_text("mine")
    removed = store.cleanup()
    assert sorted(i.label for i in removed) == ["lonely", "old"]
    assert [i.label for i in store.items(WS)[0]] == ["fresh"]
    assert not stale.exists() and not (tmp_path / OTHER).exists() and unrelated.read_text() == "mine"


def test_remove_deletes_one_item(tmp_path: Path) -> None:
    store = _store(tmp_path)
    a = store.save_upload(WS, key="upload:a", label="a", files={"main": ("a.npy", b"a")}).item
    store.save_upload(WS, key="upload:b", label="b", files={"main": ("b.npy", b"b")})
    assert store.remove(WS, a.item_id) is True
    assert store.remove(WS, a.item_id) is False
    assert [i.label for i in store.items(WS)[0]] == ["b"]


def test_a_corrupt_item_is_reported_not_fatal(tmp_path: Path) -> None:
    store = _store(tmp_path)
    good = store.save_upload(WS, key="upload:a", label="a", files={"main": ("a.npy", b"a")}).item
    bad = store.save_upload(WS, key="upload:b", label="b", files={"main": ("b.npy", b"b")}).item
    (bad.folder / "item.json").write_text("{not json")
    items, problems = store.items(WS)
    assert [i.item_id for i in items] == [good.item_id]
    assert len(problems) == 1 and bad.item_id in problems[0]


def test_settings_from_the_environment(tmp_path: Path) -> None:
    s = settings_from_env({"REPLENS_WORKSPACE": str(tmp_path), "REPLENS_WORKSPACE_MAX": "10MB",
                           "REPLENS_WORKSPACE_MAX_AGE_DAYS": "7"})
    assert (s.root, s.max_bytes, s.max_age_days) == (tmp_path.resolve(), 10 * 1024**2, 7.0)
    assert settings_from_env({"REPLENS_WORKSPACE": "off"}) is None
    default = settings_from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert default.root == (tmp_path / "replens" / "workspaces").resolve() and default.max_bytes == DEFAULT_MAX_BYTES
    with pytest.raises(ValueError, match="REPLENS_WORKSPACE_MAX='lots'"):
        settings_from_env({"REPLENS_WORKSPACE": str(tmp_path), "REPLENS_WORKSPACE_MAX": "lots"})
    with pytest.raises(ValueError, match="number of days"):
        settings_from_env({"REPLENS_WORKSPACE": str(tmp_path), "REPLENS_WORKSPACE_MAX_AGE_DAYS": "soon"})
