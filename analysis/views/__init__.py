"""Plotly figure builders: the only package that imports plotly (DESIGN.md section 1)."""

from analysis.views.charts import (
    class_size_bars,
    norm_histogram,
    training_curves,
)
from analysis.views.codebook import (
    code_label_heatmap,
    code_usage_rank,
    digit_gallery,
    usage_over_training,
)
from analysis.views.collapse import (
    class_means_animation,
    collapse_heatmap,
    gram_comparison,
    imbalance_panel,
    nc_over_training,
)
from analysis.views.collapse_classes import minority_collapse_chart, new_classes_chart
from analysis.views.compare import cka_heatmap, matching_curves
from analysis.views.geometry import alignment_uniformity_plane, spectrum_chart, sphere_animation
from analysis.views.hubness import (
    centrality_scatter,
    hubness_scatter,
    k_occurrence_charts,
    reduction_bars,
    skewness_vs_dimension,
)
from analysis.views.information import (
    accuracy_curves,
    information_curves,
    information_plane_figure,
    validation_figure,
)
from analysis.views.numbers import format_number, format_percent
from analysis.views.report import (
    class_summary_chart,
    code_usage_chart,
    cumulative_spectrum_chart,
    k_occurrence_comparison,
    report_figures,
    report_html,
)
from analysis.views.retrieval import k_occurrence_before_after
from analysis.views.scatter import ColorSpec, animated_scatter, embedding_scatter
from analysis.views.superposition import (
    feature_arrows,
    feature_dimensionality_plot,
    gram_and_bias,
    overlap_histograms,
    phase_diagram_heatmap,
)

__all__ = [
    "ColorSpec",
    "embedding_scatter",
    "animated_scatter",
    "class_size_bars",
    "norm_histogram",
    "training_curves",
    "cka_heatmap",
    "matching_curves",
    "class_means_animation",
    "collapse_heatmap",
    "gram_comparison",
    "imbalance_panel",
    "minority_collapse_chart",
    "new_classes_chart",
    "nc_over_training",
    "centrality_scatter",
    "hubness_scatter",
    "k_occurrence_charts",
    "reduction_bars",
    "skewness_vs_dimension",
    "alignment_uniformity_plane",
    "spectrum_chart",
    "sphere_animation",
    "accuracy_curves",
    "information_curves",
    "information_plane_figure",
    "validation_figure",
    "feature_arrows",
    "feature_dimensionality_plot",
    "gram_and_bias",
    "overlap_histograms",
    "phase_diagram_heatmap",
    "code_label_heatmap",
    "code_usage_rank",
    "digit_gallery",
    "usage_over_training",
    "class_summary_chart",
    "code_usage_chart",
    "cumulative_spectrum_chart",
    "k_occurrence_comparison",
    "report_figures",
    "report_html",
    "format_number",
    "format_percent",
    "k_occurrence_before_after",
]
