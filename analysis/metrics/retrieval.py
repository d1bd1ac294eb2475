"""Cross-modal retrieval: re-ranking a query x gallery similarity matrix against hubness, and recall@k.

A query (a caption) retrieves the gallery items (images) with the largest
similarity. In high dimensions a few gallery items (hubs) are near every
query and crowd the top of every list; the methods here re-score the
similarities so that a gallery item's popularity is discounted:

- ``none``: the raw similarity S.
- ``csls``: cross-domain similarity local scaling, Conneau et al. 2018.
- ``inverted_softmax``: Smith et al. 2017, normalising over a query bank.
- ``qb_norm``: querybank normalisation with the dynamic inverted softmax, Bogolin et al. 2022.
- ``dbnorm``: dual bank normalisation (dual inverted softmax), Wang, Jian & Xue 2023.

Everything is float64, the softmaxes in log space, and the work is done in
blocks of queries (and of bank rows), so temporaries stay about 32 MiB
whatever the size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import logsumexp

from analysis.metrics._result import MetricResult
from analysis.metrics.hubness import Hubness, hubness_from_neighbors
from analysis.validation import check_k, check_matrix, check_option, first_rows

__all__ = [
    "METHODS",
    "METHOD_NAMES",
    "RetrievalRecall",
    "RetrievalReranking",
    "rerank_retrieval",
    "retrieval_recall",
    "retrieval_scores",
]

METHODS = ("none", "csls", "inverted_softmax", "qb_norm", "dbnorm")
METHOD_NAMES = {
    "none": "none (raw similarity)",
    "csls": "CSLS",
    "inverted_softmax": "Inverted softmax",
    "qb_norm": "QB-Norm (dynamic IS)",
    "dbnorm": "DBNorm (dual IS)",
}
# QB-Norm's default inverse temperature is beta = 20 on cosine similarities.
DEFAULT_TEMPERATURE = 0.05
DEFAULT_K_SCALE = 10
# Elements of one float64 working block (32 MiB).
_BLOCK_ELEMENTS = 1 << 22


def _block_rows(width: int) -> int:
    return max(1, _BLOCK_ELEMENTS // max(1, width))


@dataclass(frozen=True, eq=False)
class RetrievalReranking(MetricResult):
    """Result of :func:`rerank_retrieval`.

    Attributes
    ----------
    indices : ndarray of shape (n_queries, k), int64
        Each query's k best gallery items after re-ranking, best first
        (ties: the lower gallery index first).
    scores : ndarray of shape (n_queries, k), float64
        Their re-ranked scores (see `retrieval_scores` for each method's
        scale; comparable within a query's row only).
    method : str
    k : int
    temperature : float
        The softmaxes' temperature t (``exp(S / t)``); recorded for every method.
    gallery_temperature : float
        DBNorm's temperature of the gallery-bank factor (the same as `temperature` unless given).
    k_scale : int
        CSLS's neighbourhood size (recorded for every method).
    hubness_before, hubness_after : Hubness
        k-occurrence of the gallery items in the raw and in the re-ranked
        top-k lists (`hubness_from_neighbors` with ``n_items = n_gallery``).
    n_queries, n_gallery : int
    n_normalised : int
        Queries whose scores were re-normalised: all for csls, inverted
        softmax and dbnorm, none for none, those whose raw top-1 is in the
        activation set for qb_norm.
    notes : tuple of str
    """

    indices: np.ndarray
    scores: np.ndarray
    method: str
    k: int
    temperature: float
    gallery_temperature: float
    k_scale: int
    hubness_before: Hubness
    hubness_after: Hubness
    n_queries: int
    n_gallery: int
    n_normalised: int
    notes: tuple[str, ...] = ()

    SCALARS: ClassVar[tuple[str, ...]] = ("skewness_before", "skewness_after")

    @property
    def skewness_before(self) -> float | None:
        return self.hubness_before.skewness

    @property
    def skewness_after(self) -> float | None:
        return self.hubness_after.skewness


# --------------------------------------------------------------------------- validation


def _check_temperature(value: Any, what: str) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{what} must be a finite number > 0; got {value!r}. "
                         f"Use e.g. {what}={DEFAULT_TEMPERATURE} (beta = 20 on cosine similarities).")
    return float(value)


def _check_similarity(similarity: Any) -> np.ndarray:
    S = check_matrix(similarity, name="similarity", action="re-ranking")
    return np.asarray(S, dtype=np.float64)


def _check_bank(bank: Any, *, name: str, n_gallery: int) -> np.ndarray:
    """A bank's (n_bank, n_gallery) similarities: NaN and +inf refused, -inf means "left out"."""
    arr = np.asarray(bank)
    if arr.ndim != 2 or arr.shape[1] != n_gallery or arr.shape[0] < 1:
        raise ValueError(f"{name} must be a similarity matrix of shape (n_bank, n_gallery) = (n_bank, {n_gallery}): "
                         f"one row per bank item, one column per gallery item; got shape {arr.shape}.")
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers; got dtype {arr.dtype}. Convert it, e.g. "
                         f"{name}.astype(np.float64).")
    arr = np.asarray(arr, dtype=np.float64)
    bad = np.flatnonzero(np.isnan(arr).any(axis=1) | np.isposinf(arr).any(axis=1))
    if bad.size:
        raise ValueError(f"{name} contains NaN or +inf in {bad.size} rows (first: {first_rows(bad)}). Drop or "
                         "recompute these rows; -inf is allowed and leaves a pair out (e.g. an item against itself).")
    empty = np.flatnonzero(np.isneginf(arr).all(axis=0))
    if empty.size:
        raise ValueError(f"{name} leaves out every bank item (-inf) for {empty.size} gallery columns "
                         f"(first: {first_rows(empty)}): their normaliser would be log 0. Keep at least one "
                         "finite similarity per gallery item.")
    return arr


def _check_scaled(arr: np.ndarray, temperature: float, name: str) -> None:
    """Refuse S / t beyond float64 (finite entries only: -inf in a bank stays -inf); streamed over row blocks."""
    largest = 0.0
    step = _block_rows(arr.shape[1])
    for start in range(0, arr.shape[0], step):
        block = np.abs(arr[start:start + step])
        largest = max(largest, float(np.max(block, initial=0.0, where=np.isfinite(block))))
    if not math.isfinite(largest / temperature):
        raise ValueError(f"{name} / temperature overflows float64 (max |{name}| = {largest:.3g}, t = {temperature:g}): "
                         "rescale the similarities (cosines lie in [-1, 1]) or raise t.")


# --------------------------------------------------------------------------- the normalisers


def _column_log_normaliser(bank: np.ndarray, temperature: float) -> np.ndarray:
    """log sum_b exp(bank[b, j] / t) for every gallery column j, streamed over bank rows."""
    total = np.full(bank.shape[1], -np.inf)
    step = _block_rows(bank.shape[1])
    with np.errstate(divide="ignore"):  # a block whose column is all -inf gives log 0 = -inf
        for start in range(0, bank.shape[0], step):
            total = np.logaddexp(total, logsumexp(bank[start:start + step] / temperature, axis=0))
    return total


def _column_top_mean(bank: np.ndarray, k_scale: int) -> np.ndarray:
    """Mean of the k_scale largest entries of every column, streamed over row blocks."""
    best = np.full((0, bank.shape[1]), -np.inf)
    step = _block_rows(bank.shape[1])
    for start in range(0, bank.shape[0], step):
        stacked = np.vstack([best, bank[start:start + step]])
        keep = min(k_scale, stacked.shape[0])
        best = -np.partition(-stacked, keep - 1, axis=0)[:keep]
    return best.mean(axis=0)


def _row_top_mean(block: np.ndarray, k_scale: int) -> np.ndarray:
    return -np.partition(-block, k_scale - 1, axis=1)[:, :k_scale].mean(axis=1)


@dataclass(frozen=True)
class _Plan:
    """What every block of queries needs: the per-gallery normalisers, computed once."""

    method: str
    temperature: float
    gallery_temperature: float
    k_scale: int
    column_term: np.ndarray | None = None  # subtracted from S / t (log normalisers), or r_g for csls
    gallery_term: np.ndarray | None = None  # dbnorm's gallery-bank log normaliser
    activation: np.ndarray | None = None  # qb_norm: bool (n_gallery,), top-1 of some bank query

    def scores(self, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Re-ranked scores of a block of query rows, and which rows were normalised."""
        t = self.temperature
        if self.method == "none":
            return S, np.zeros(S.shape[0], dtype=bool)
        if self.method == "csls":
            return 2.0 * S - _row_top_mean(S, self.k_scale)[:, None] - self.column_term[None, :], \
                np.ones(S.shape[0], dtype=bool)
        inverted = S / t - self.column_term[None, :]
        if self.method == "inverted_softmax":
            return inverted, np.ones(S.shape[0], dtype=bool)
        if self.method == "dbnorm":
            return inverted + (S / self.gallery_temperature - self.gallery_term[None, :]), \
                np.ones(S.shape[0], dtype=bool)
        normalise = self.activation[np.argmax(S, axis=1)]
        return np.where(normalise[:, None], inverted, S), normalise


def _plan(S: np.ndarray, method: str, *, temperature: float, gallery_temperature: float, k_scale: int,
          query_bank: np.ndarray, gallery_bank: np.ndarray | None) -> _Plan:
    common = dict(method=method, temperature=temperature, gallery_temperature=gallery_temperature, k_scale=k_scale)
    if method == "none":
        return _Plan(**common)
    if method == "csls":
        if not np.isfinite(query_bank).all():
            raise ValueError("csls averages each gallery item's k_scale largest bank similarities: pass a "
                             "query_bank without -inf entries.")
        return _Plan(**common, column_term=_column_top_mean(query_bank, k_scale))
    _check_scaled(query_bank, temperature, "query_bank")
    normaliser = _column_log_normaliser(query_bank, temperature)
    if method == "inverted_softmax":
        return _Plan(**common, column_term=normaliser)
    if method == "qb_norm":
        activation = np.zeros(S.shape[1], dtype=bool)
        step = _block_rows(S.shape[1])
        for start in range(0, query_bank.shape[0], step):
            activation[np.argmax(query_bank[start:start + step], axis=1)] = True
        return _Plan(**common, column_term=normaliser, activation=activation)
    _check_scaled(gallery_bank, gallery_temperature, "gallery_bank")
    return _Plan(**common, column_term=normaliser,
                 gallery_term=_column_log_normaliser(gallery_bank, gallery_temperature))


def _validated(similarity: Any, method: str, temperature: Any, gallery_temperature: Any, k_scale: Any,
               query_bank: Any, gallery_bank: Any) -> tuple[np.ndarray, _Plan]:
    check_option(method, METHODS, what="method")
    S = _check_similarity(similarity)
    n_gallery = S.shape[1]
    t = _check_temperature(temperature, "temperature")
    t_gallery = t if gallery_temperature is None else _check_temperature(gallery_temperature, "gallery_temperature")
    if method in ("inverted_softmax", "qb_norm", "dbnorm"):
        _check_scaled(S, t, "similarity")
    if method == "dbnorm":
        _check_scaled(S, t_gallery, "similarity")
    if method == "csls" and not math.isfinite(4.0 * float(np.max(np.abs(S)))):
        raise ValueError("csls doubles the similarities: |similarity| up to 1e308 overflows float64. Rescale them "
                         "(cosines lie in [-1, 1]).")
    bank = S if query_bank is None else _check_bank(query_bank, name="query_bank", n_gallery=n_gallery)
    gbank = None
    if method == "dbnorm":
        if gallery_bank is None:
            raise ValueError("dbnorm needs gallery_bank: the (n_bank, n_gallery) similarities of gallery-side bank "
                             "items (e.g. training images) to the gallery; pass the gallery against itself with "
                             "the diagonal set to -inf when there is no separate bank.")
        gbank = _check_bank(gallery_bank, name="gallery_bank", n_gallery=n_gallery)
    k_scale = check_k(k_scale, what="k_scale")
    if method == "csls":
        k_scale = check_k(k_scale, n=min(n_gallery, bank.shape[0]), what="k_scale",
                          needs="gallery items and bank queries at most")
    plan = _plan(S, method, temperature=t, gallery_temperature=t_gallery, k_scale=k_scale, query_bank=bank,
                 gallery_bank=gbank)
    return S, plan


# --------------------------------------------------------------------------- public functions


def retrieval_scores(similarity: Any, *, method: str, temperature: float = DEFAULT_TEMPERATURE,
                     query_bank: Any = None, gallery_bank: Any = None, gallery_temperature: float | None = None,
                     k_scale: int = DEFAULT_K_SCALE) -> np.ndarray:
    """The full (n_queries, n_gallery) matrix of re-ranked scores (for small inputs; see `rerank_retrieval`).

    With S the similarities, B the query bank's and H the gallery bank's
    similarities to the gallery, t the temperature:

    - ``none``: ``S_ij``.
    - ``csls``: ``2 S_ij - r_q(i) - r_g(j)``, r_q(i) the mean of query i's
      k_scale largest S_ij over the gallery, r_g(j) the mean of the k_scale
      largest B_bj over the bank.
    - ``inverted_softmax``: ``log P_ij = S_ij / t - log sum_b exp(B_bj / t)``
      (the log of P_ij; ``exp`` of a column sums to 1 over the bank when B = S).
    - ``qb_norm``: the inverted softmax for queries whose raw top-1 item is
      in the activation set ``{argmax_j B_bj : b in bank}``, raw ``S_ij`` for the others.
    - ``dbnorm``: ``log P_ij + S_ij / t_g - log sum_h exp(H_hj / t_g)``.

    Returns
    -------
    ndarray of shape (n_queries, n_gallery), float64
    """
    S, plan = _validated(similarity, method, temperature, gallery_temperature, k_scale, query_bank, gallery_bank)
    return plan.scores(S)[0]


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores per row, best first; ties go to the lower index (as a stable sort).

    A partition finds k candidates and only they are sorted (by score, then
    index); rows with a tie at the k-th place, where the partition's choice
    among the tied is arbitrary, are sorted in full.
    """
    n = scores.shape[1]
    if 4 * k >= n:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -values), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    tied = np.flatnonzero(np.count_nonzero(scores >= values.min(axis=1)[:, None], axis=1) > k)
    if tied.size:
        top[tied] = np.argsort(-scores[tied], axis=1, kind="stable")[:, :k]
    return top.astype(np.int64)


def rerank_retrieval(similarity: Any, *, method: str, k: int, temperature: float = DEFAULT_TEMPERATURE,
                     query_bank: Any = None, gallery_bank: Any = None, gallery_temperature: float | None = None,
                     k_scale: int = DEFAULT_K_SCALE) -> RetrievalReranking:
    """Re-rank each query's gallery items to reduce hubness, and measure the gallery's hubness before and after.

    With S the (n_queries, n_gallery) similarities, B (n_bank, n_gallery) the
    query bank's similarities to the gallery (default B = S: the queries are
    their own bank), H the gallery bank's, and t the temperature:

    .. math::

        \\mathrm{CSLS}_{ij} &= 2 S_{ij} - r_q(i) - r_g(j) \\\\
        P_{ij} &= \\frac{\\exp(S_{ij}/t)}{\\sum_{b} \\exp(B_{bj}/t)} \\\\
        \\mathrm{DB}_{ij} &= P_{ij} \\cdot \\frac{\\exp(S_{ij}/t_g)}{\\sum_{h} \\exp(H_{hj}/t_g)}

    - ``csls`` [1]_: r_q(i) is the mean of query i's k_scale largest
      similarities, r_g(j) the mean of gallery item j's k_scale largest bank
      similarities (its "hubness" as seen by the bank).
    - ``inverted_softmax`` [2]_: P_ij normalises exp(S/t) over the query bank
      for each gallery item, so a gallery item near every bank query is
      discounted. With B = S each column of P sums to 1, and adding a
      constant to a gallery column of S (and B) cancels.
    - ``qb_norm`` [3]_ (dynamic inverted softmax): the activation set holds
      the gallery items that are some bank query's top-1; a query whose raw
      top-1 is in it is ranked by P, any other keeps S. With B = S every
      query is normalised (each is its own bank query), so it equals the
      inverted softmax: pass a separate bank.
    - ``dbnorm`` [4]_ (dual bank normalisation, the dual inverted softmax):
      P times a second inverted softmax of the same S over a *gallery* bank
      (gallery-modality items, e.g. training images): both factors
      normalise per gallery item, since a hub is close both to queries and
      to other gallery data (Wang, Jian & Xue 2023: DualIS, as in the
      authors' released code, DBNorm/dbnorm.py, where the two inverted
      softmaxes are multiplied; their beta_1 = 1/t, beta_2 = 1/t_g, here
      equal unless `gallery_temperature` is given). The gallery bank is
      required; when there is none, pass the gallery against itself with
      the diagonal set to -inf (each item left out of its own normaliser).
      The dynamic variant (DualDIS) is not implemented.

    Scores are ranked in log space (log P, log P + log of the gallery
    factor), which orders each row as P does but cannot underflow.

    Parameters
    ----------
    similarity : array-like of shape (n_queries, n_gallery)
        E.g. cosines of query embeddings against gallery embeddings.
    method : {"none", "csls", "inverted_softmax", "qb_norm", "dbnorm"}
    k : int
        Items kept per query, ``1 <= k <= n_gallery``; also the k of the k-occurrence.
    temperature : float, default=0.05
        t > 0 (QB-Norm's beta = 1/t = 20 on cosines).
    query_bank : array-like of shape (n_bank, n_gallery), optional
        Bank queries against the gallery; default ``similarity``. -inf leaves a pair out.
    gallery_bank : array-like of shape (n_gallery_bank, n_gallery), optional
        Gallery-side bank items against the gallery (``dbnorm`` only, required there).
    gallery_temperature : float, optional
        t_g of DBNorm's gallery factor; default `temperature`.
    k_scale : int, default=10
        CSLS's neighbourhood size, at most n_gallery and n_bank.

    Returns
    -------
    RetrievalReranking

    Raises
    ------
    ValueError
        Not a 2-D real matrix, NaN or Inf in the similarity (NaN or +inf in a
        bank), a bank of another gallery width, k outside [1, n_gallery],
        t <= 0 or S / t overflowing, an unknown method, dbnorm without a
        gallery bank, csls with k_scale above n_gallery or n_bank.

    Notes
    -----
    Invariant to permuting the queries when the bank is separate or the
    default (indices permute with the rows). Memory beyond the inputs is one
    block of about 32 MiB plus the (n_queries, k) results.

    References
    ----------
    .. [1] A. Conneau, G. Lample, M. Ranzato, L. Denoyer and H. Jegou, "Word
       translation without parallel data", ICLR 2018.
    .. [2] S. L. Smith, D. H. P. Turban, S. Hamblin and N. Y. Hammerla,
       "Offline bilingual word vectors, orthogonal transformations and the
       inverted softmax", ICLR 2017.
    .. [3] S.-V. Bogolin, I. Croitoru, H. Jin, Y. Liu and S. Albanie, "Cross
       modal retrieval with querybank normalisation", CVPR 2022.
    .. [4] Y. Wang, X. Jian and B. Xue, "Balance Act: mitigating hubness in
       cross-modal retrieval with query and gallery banks", EMNLP 2023.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.array([[0.9, 0.8], [0.7, 0.2], [0.6, 0.5]])
    >>> rerank_retrieval(S, method="none", k=1).indices.ravel().tolist()
    [0, 0, 0]
    >>> rerank_retrieval(S, method="inverted_softmax", k=1, temperature=1.0).indices.ravel().tolist()
    [1, 0, 1]
    """
    S, plan = _validated(similarity, method, temperature, gallery_temperature, k_scale, query_bank, gallery_bank)
    n_queries, n_gallery = S.shape
    k = check_k(k, n=n_gallery, needs="gallery items")
    before = np.empty((n_queries, k), dtype=np.int64)
    indices = np.empty((n_queries, k), dtype=np.int64)
    scores = np.empty((n_queries, k), dtype=np.float64)
    normalised = 0
    step = _block_rows(n_gallery)
    for start in range(0, n_queries, step):
        block = S[start:start + step]
        before[start:start + step] = raw = _top_k(block, k)
        reranked, rows = plan.scores(block)
        top = raw if method == "none" else _top_k(reranked, k)
        indices[start:start + step] = top
        scores[start:start + step] = np.take_along_axis(reranked, top, axis=1)
        normalised += int(rows.sum())
    notes: list[str] = []
    if method == "qb_norm" and query_bank is None:
        notes.append("The bank is the queries themselves, so every query's top-1 is in the activation set: QB-Norm "
                     "equals the inverted softmax here. Pass a separate query_bank.")
    return RetrievalReranking(
        indices=indices, scores=scores, method=method, k=int(k), temperature=plan.temperature,
        gallery_temperature=plan.gallery_temperature, k_scale=int(plan.k_scale),
        hubness_before=hubness_from_neighbors(before, n_items=n_gallery, metric="similarity"),
        hubness_after=hubness_from_neighbors(indices, n_items=n_gallery, metric="similarity"),
        n_queries=int(n_queries), n_gallery=int(n_gallery), n_normalised=normalised, notes=tuple(notes),
    )


@dataclass(frozen=True, eq=False)
class RetrievalRecall(MetricResult):
    """Result of :func:`retrieval_recall`.

    Attributes
    ----------
    ks : tuple of int
    recall : ndarray of shape (len(ks),), float64
        Share of queries whose true gallery item is among their first k.
    hit_rank : ndarray of shape (n_queries,), int64
        Rank (1 = first) of the true item in each list; 0 when it is not in the list.
    n_queries : int
    """

    ks: tuple[int, ...]
    recall: np.ndarray
    hit_rank: np.ndarray
    n_queries: int

    SCALARS: ClassVar[tuple[str, ...]] = ("recall",)

    def at(self, k: int) -> float:
        """recall@k for one of `ks`."""
        return float(self.recall[self.ks.index(int(k))])

    def as_dict(self) -> dict[str, float]:
        """{"recall@1": ..., "recall@5": ...}."""
        return {f"recall@{k}": float(r) for k, r in zip(self.ks, self.recall, strict=True)}


def retrieval_recall(indices: Any, truth: Any, *, ks: tuple[int, ...] = (1, 5, 10)) -> RetrievalRecall:
    """recall@k: the share of queries whose one true gallery item is among their first k retrieved.

    .. math::

        R@k = \\frac{1}{n_q} \\sum_i \\mathbb{1}[\\, t_i \\in \\{I_{i1}, \\dots, I_{ik}\\} \\,]

    the standard cross-modal retrieval score (e.g. Bogolin et al. 2022 [1]_,
    Wang et al. 2023 [2]_ report R@1, R@5, R@10).

    Parameters
    ----------
    indices : array-like of shape (n_queries, n_retrieved), int
        Each query's retrieved gallery items, best first (`RetrievalReranking.indices`).
    truth : array-like of shape (n_queries,), int
        The gallery index of each query's match. -1 (no match) is refused:
        drop those queries first.
    ks : tuple of int, default=(1, 5, 10)
        Each in ``[1, n_retrieved]``.

    Returns
    -------
    RetrievalRecall

    References
    ----------
    .. [1] S.-V. Bogolin, I. Croitoru, H. Jin, Y. Liu and S. Albanie, "Cross
       modal retrieval with querybank normalisation", CVPR 2022.
    .. [2] Y. Wang, X. Jian and B. Xue, "Balance Act: mitigating hubness in
       cross-modal retrieval with query and gallery banks", EMNLP 2023.

    Examples
    --------
    >>> retrieval_recall([[2, 0], [1, 2]], [0, 2], ks=(1, 2)).recall.tolist()
    [0.0, 1.0]
    """
    ind = np.asarray(indices)
    if ind.ndim != 2 or ind.shape[0] < 1 or ind.shape[1] < 1 or ind.dtype.kind not in "iu":
        raise ValueError(f"indices must be an integer array of shape (n_queries, n_retrieved); got shape {ind.shape} "
                         f"and dtype {ind.dtype}. Pass RetrievalReranking.indices.")
    t = np.asarray(truth)
    if t.ndim != 1 or t.shape[0] != ind.shape[0] or t.dtype.kind not in "iu":
        raise ValueError(f"truth must be an integer array of shape (n_queries,) = ({ind.shape[0]},): one gallery "
                         f"index per query; got shape {t.shape} and dtype {t.dtype}.")
    missing = np.flatnonzero(t < 0)
    if missing.size:
        raise ValueError(f"truth is negative (no match) for {missing.size} queries (first: {first_rows(missing)}): "
                         "recall is undefined for a query with nothing to find. Drop those queries first.")
    if isinstance(ks, int | np.integer) or not len(ks):
        raise ValueError(f"ks must be a non-empty tuple of ints, e.g. (1, 5, 10); got {ks!r}.")
    ks = tuple(check_k(k, n=ind.shape[1], what="each of ks", needs="items retrieved per query") for k in ks)
    hits = ind == t[:, None]
    found = hits.any(axis=1)
    hit_rank = np.where(found, np.argmax(hits, axis=1) + 1, 0).astype(np.int64)
    recall = np.array([np.mean((hit_rank >= 1) & (hit_rank <= k)) for k in ks], dtype=np.float64)
    return RetrievalRecall(ks=ks, recall=recall, hit_rank=hit_rank, n_queries=int(ind.shape[0]))
