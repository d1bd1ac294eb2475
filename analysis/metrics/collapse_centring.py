"""Where neural collapse centres the class means: the global mean mu_G.

Every centred quantity of `analysis.metrics.neural_collapse` (``M = [mu_c - mu_G]``,
hence Sigma_B, NC1, NC2, the ETF distance and NC3) depends on mu_G. Two
conventions exist:

- ``"class_means"`` (RepLens's default): ``mu_G = (1/C) sum_c mu_c``, the mean of
  the class means. Every class weighs the same, so a simplex ETF of the means is
  centred at 0 whatever the class sizes.
- ``"samples"``: ``mu_G = (1/n) sum_i x_i = sum_c (n_c / n) mu_c``, the mean of all
  samples, as defined by Papyan, Han & Donoho (2020, "Prevalence of neural collapse
  during the terminal phase of deep learning training", PNAS 117(40), section
  "Notation": the global mean ``mu_G = Ave_{i,c} h_{i,c}``). Their experiments use
  balanced data, where the two are equal.

With balanced classes (all n_c equal) the two means coincide exactly; with
long-tailed classes the samples' mean moves towards the large classes, and the
ETF distance can differ a lot (0.137 against 0.470 on one long-tailed example at
d = 500). The samples' mean is computed from the class statistics (counts and
means), so it costs no extra pass over the rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.validation import check_option

__all__ = ["CENTRINGS", "check_centring", "global_mean"]

CENTRINGS = ("class_means", "samples")


def check_centring(mu_g: Any) -> str:
    """`mu_g` when it names a centring, else a ValueError listing both."""
    return check_option(mu_g, CENTRINGS, what="mu_g",
                        hint='"class_means" centres on the mean of the class means (every class weighs the same), '
                             '"samples" on the mean of all samples (Papyan et al. 2020).')


def global_mean(means: np.ndarray, counts: np.ndarray, mu_g: str) -> np.ndarray:
    """mu_G of class means ``means`` (C, d) with class sizes ``counts`` (C,), by the centring `mu_g`.

    ``"class_means"``: ``(1/C) sum_c mu_c``; ``"samples"``: ``sum_c n_c mu_c / n``
    (the mean of all samples, recovered exactly from the per-class means).
    """
    counts = np.asarray(counts)
    # Equal class sizes make the two means equal; the same arithmetic makes them equal to the last bit.
    if check_centring(mu_g) == "class_means" or np.all(counts == counts[0]):
        return means.mean(axis=0)
    weights = counts.astype(np.float64)
    return weights @ means / weights.sum()
