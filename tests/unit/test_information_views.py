"""analysis.views.information: the plane's hover text gives both readings of each estimate, raw and clipped."""

from __future__ import annotations

import polars as pl

from analysis.views.information import hover_readings, information_curves, information_plane_figure


def _table() -> pl.DataFrame:
    return pl.DataFrame({"layer": ["h", "h"], "step": [0, 10], "epoch": [0.0, 1.0], "i_xt": [0.0, 1.25],
                         "i_ty": [0.5, 0.0], "i_xt_raw": [-0.0098, 1.25], "i_ty_raw": [0.5, -0.002]})


def test_hover_gives_raw_and_clipped_readings() -> None:
    lines = hover_readings(_table())
    assert lines[0] == ("I(X;T) = 0.000 bits, clipped at 0 (raw estimate -0.0098: MI is never negative)<br>"
                        "I(T;Y) = 0.500 bits (raw estimate +0.5000, not clipped)")
    assert lines[1] == ("I(X;T) = 1.250 bits (raw estimate +1.2500, not clipped)<br>"
                        "I(T;Y) = 0.000 bits, clipped at 0 (raw estimate -0.0020: MI is never negative)")


def test_plane_and_curves_carry_the_raw_estimates() -> None:
    fig = information_plane_figure({"run": _table()})
    trace = next(t for t in fig.data if t.hovertemplate)
    assert list(trace.text) == hover_readings(_table()) and "%{text}" in trace.hovertemplate
    curves = information_curves({"run": _table()})
    i_xt, i_ty = curves.data[0], curves.data[1]
    assert [row[1] for row in i_xt.customdata] == [-0.0098, 1.25]
    assert [row[1] for row in i_ty.customdata] == [0.5, -0.002]
    assert "raw estimate %{customdata[1]:+.4f}" in i_xt.hovertemplate
