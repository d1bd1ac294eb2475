"""The Retrieval tab's N_k histogram before and after re-ranking."""

from __future__ import annotations

import numpy as np

from analysis.views import k_occurrence_before_after


def test_before_and_after_bars_count_gallery_items_per_n_k():
    fig = k_occurrence_before_after(np.array([0, 0, 3, 9]), np.array([3, 3, 3, 3]), 3, after_name="<b>DBNorm</b>")
    before, after = fig.data
    assert list(before.x) == [0, 3, 9] and list(before.y) == [2, 1, 1]  # two items nobody retrieves
    assert list(after.x) == [3] and list(after.y) == [4]
    assert after.name == "after &lt;b&gt;DBNorm&lt;/b&gt;"  # user text escaped
    assert fig.layout.yaxis.type == "log" and fig.layout.barmode == "overlay"
    assert fig.layout.shapes[0].x0 == 6  # the hub line at 2k
