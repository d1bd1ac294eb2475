"""AppTest: the Report page diagnoses the sidebar's embedding, links each finding, and exports HTML and JSON."""

from __future__ import annotations

import json

from analysis.report import diagnose
from tests.app.pages import metric_cards, open_page
from ui.report import COUNT_LABELS

PAGE = "app_pages/report.py"


def test_report_of_the_sample_matches_the_library_and_exports() -> None:
    at = open_page(PAGE)
    assert not at.exception, at.exception
    view = at.session_state["view"]
    expected = diagnose(view.embedding)
    counts = expected.verdict_counts()
    cards = metric_cards(at)
    for verdict, label in COUNT_LABELS.items():
        assert cards[label] == str(counts[verdict]), (label, cards)
    shown = " ".join(m.value for m in at.markdown)
    for finding in expected.findings:
        assert finding.title in shown
    downloads = [b for b in at.get("download_button")]
    assert len(downloads) == 2


def test_report_json_is_valid_for_the_shown_report() -> None:
    at = open_page(PAGE)
    report = diagnose(at.session_state["view"].embedding)
    data = json.loads(report.to_json())
    assert data["n_samples"] == at.session_state["view"].embedding.n_samples
    assert {f["key"] for f in data["findings"]} == {f.key for f in report.findings}


def test_the_report_names_its_rows_as_the_collapse_page_does() -> None:
    """Issue 18 item 6: the report's NC1 and the page's NC1 each say which rows they measured; on the train
    split both say "train rows (n)" and the report's class balance names classes, never "'0' / '0'"."""
    at = open_page(PAGE, split="train")
    assert not at.exception, at.exception
    view = at.session_state["view"]
    rows = f"train rows ({view.selection.n_samples:,})"
    shown = " ".join(m.value for m in at.markdown)
    assert rows in shown
    balance = next(f for f in diagnose(view.embedding).findings if f.key == "class_balance")
    assert "' / '" not in balance.reason and "largest class" in balance.reason
    page = at.switch_page("app_pages/collapse.py").run()
    assert any(rows in m.value for m in page.markdown)
