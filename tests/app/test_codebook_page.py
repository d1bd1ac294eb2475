"""AppTest: the codebook-usage page on the shipped VQ samples, on uploaded codes, and its presets."""

from __future__ import annotations

import numpy as np

from analysis.metrics import codebook_usage
from analysis.models.vq import VQ_PRESETS
from analysis.views import format_number
from tests.app.pages import metric_cards, npy_bytes, open_page

PAGE = "app_pages/codebook.py"


def _open_sample(index: int):
    at = open_page(PAGE)
    at.sidebar.selectbox(key="source_key").select_index(index).run()
    return at.switch_page(PAGE).run()


def test_plain_vq_sample_uses_few_codes_and_the_cards_match() -> None:
    at = _open_sample(2)  # digits_vq_plain (sample)
    assert not at.exception, at.exception
    run = at.session_state["view"].source.run
    step = run.steps[-1]
    expected = codebook_usage(run.codes[("encoder", step)], codebook_size=256, labels=run.labels)
    shown = metric_cards(at)
    assert shown["Perplexity"] == format_number(expected.perplexity)
    assert shown["Codes used"] == f"{expected.utilization:.1%}" and expected.utilization < 0.3
    assert shown["I(code; label)"] == format_number(expected.mutual_information)
    assert "Codes among the encoder outputs" in [s.value for s in at.subheader]


def test_remedies_sample_overlays_the_plain_run() -> None:
    at = _open_sample(3)  # digits_vq_remedies (sample)
    overlay = at.multiselect(key="code_overlay")
    plain_key = next(o for o in overlay.options if "plain" in o) if overlay.options else None
    assert plain_key is not None
    overlay.set_value([plain_key]).run()
    assert not at.exception, at.exception
    assert metric_cards(at)["Codes used"].endswith("%") and float(metric_cards(at)["Codes used"][:-1]) > 90


def test_a_code_can_be_inspected() -> None:
    at = _open_sample(2)
    picker = at.selectbox(key="code_pick")
    second = picker.options[1]
    picker.select_index(1).run()
    assert not at.exception, at.exception
    assert second.startswith("code ")


def test_uploaded_codes_and_a_bad_upload() -> None:
    at = open_page(PAGE)  # the digits MLP sample has no codes: the upload path
    assert any("has no VQ codes" in i.value for i in at.info)
    at.number_input(key="code_k").set_value(4)
    at.file_uploader(key="code_upload").set_value(("codes.npy", npy_bytes(np.array([0, 0, 1, 1])),
                                                   "application/octet-stream")).run()
    shown = metric_cards(at)
    assert shown["Perplexity"] == "2" and shown["Dead codes"] == "50.0%"
    at.file_uploader(key="code_upload").set_value(("bad.npy", npy_bytes(np.array([0, 9])),
                                                   "application/octet-stream")).run()
    assert at.error and "bad.npy" in at.error[0].value and "[0, 4)" in at.error[0].value


def test_try_this_offers_every_vq_preset() -> None:
    at = open_page(PAGE)
    labels = [b.label for b in at.button if b.key and b.key.startswith("vq_try_")]
    assert len(labels) == len(VQ_PRESETS)


def test_every_preset_has_a_guide_line() -> None:
    from ui.codebook import GUIDE

    assert set(GUIDE) == set(VQ_PRESETS)


def test_usage_follows_the_sidebars_split() -> None:
    """The cards count the codes of the sidebar's split (issue 16: one rule for rows on every page)."""
    at = _open_sample(2)  # digits_vq_plain (sample)
    run = at.session_state["view"].source.run
    assert "test" in run.splits()
    at.session_state["split"] = "test"
    at.session_state["view"] = None
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["view"].split == "test"
    rows = run.rows("test")
    step = run.steps[-1]
    expected = codebook_usage(np.asarray(run.codes[("encoder", step)])[rows], codebook_size=256,
                              labels=run.labels[rows])
    everything = codebook_usage(run.codes[("encoder", step)], codebook_size=256, labels=run.labels)
    shown = metric_cards(at)
    assert shown["Perplexity"] == format_number(expected.perplexity) != format_number(everything.perplexity)
    assert shown["I(code; label)"] == format_number(expected.mutual_information)
    assert any(f"({rows.size:,} rows)" in m.value for m in at.markdown)
