"""The Hubness page's Retrieval tab: query rows retrieve gallery rows, re-ranked by every method.

`retrieval_panel` takes the queries' `Embedding` and, optionally, a second
`Embedding` for the gallery (another upload or run: caption and image
embeddings as two files); without one, queries and gallery are two metadata
splits of the same embedding. With how they pair (row order, an id column,
or not at all) it computes the cosine similarities once, re-ranks them with
every method of `analysis.metrics.retrieval` and returns the table and N_k
counts the tab draws. `retrieval_demo` is the tab's teaching demo on
generated two-modality data. No streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.data.schema import ALL_SPLITS, Embedding, Run
from analysis.metrics.hubness import Hubness, hubness_from_neighbors
from analysis.metrics.retrieval import (
    DEFAULT_TEMPERATURE,
    METHOD_NAMES,
    METHODS,
    RetrievalRecall,
    rerank_retrieval,
    retrieval_recall,
)
from analysis.validation import check_k, check_matrix, first_rows, row_norms

__all__ = [
    "ALL_SPLITS",
    "DEFAULT_TEMPERATURE",
    "Embedding",
    "METHODS",
    "METHOD_NAMES",
    "NO_PAIRING",
    "ROW_ORDER",
    "RetrievalDemo",
    "RetrievalPanel",
    "demo_modalities",
    "pairing_options",
    "retrieval_demo",
    "retrieval_panel",
    "same_space",
]

NO_PAIRING = "none (hubness only)"
ROW_ORDER = "row order"
RECALL_KS = (1, 5, 10)
# Similarity cells (queries x gallery, float64) the tab computes at once: 160 MB. Above it the
# queries are a seeded sample (said on the page).
MAX_CELLS = 20_000_000
# The demo: 3% of the gallery pulled towards the captions' mean direction.
DEMO = dict(n_pairs=1000, n_features=256, noise=1.8, hub_share=0.03, hub_pull=4.0, seed=0)


def _columns(data: Embedding | Run) -> list[str]:
    return [] if data.metadata is None else [c for c in data.metadata.columns if c != "split"]


def pairing_options(embedding: Embedding, gallery_embedding: Embedding | Run | None = None) -> list[str]:
    """How queries can find their match: none, row order, or a metadata column but "split" (in both datasets).

    `gallery_embedding` may be the gallery's Run (its metadata is every layer's), to list the options before
    a layer's matrix is read.
    """
    columns = _columns(embedding)
    if gallery_embedding is not None and gallery_embedding is not embedding:
        shared = set(_columns(gallery_embedding))
        columns = [c for c in columns if c in shared]
    return [NO_PAIRING, ROW_ORDER, *columns]


def same_space(queries: Embedding, gallery: Embedding) -> None:
    """Raise a ValueError naming both widths when queries and gallery cannot share a cosine."""
    if queries.n_features != gallery.n_features:
        raise ValueError(f"the queries have {queries.n_features:,} features and the gallery {gallery.n_features:,}: "
                         "a cosine needs both in one space. Project both into a shared space first (e.g. CLIP's "
                         "text and image towers, or a learned linear map), then load the projected vectors.")


@dataclass(frozen=True, eq=False)
class RetrievalPanel:
    """Everything the Retrieval tab draws for one choice of splits, pairing, k and temperature.

    Attributes
    ----------
    table : polars.DataFrame
        One row per method: recall@1/5/10 (when paired), skewness of N_k,
        antihubs, largest N_k, and the queries each method re-normalised.
    k_occurrence : dict of str to ndarray of shape (n_gallery,)
        N_k of every gallery row in the top-k lists of each method ("none": before).
    hubness : dict of str to Hubness
    recall : dict of str to RetrievalRecall, or None without pairing
    n_queries, n_gallery, n_matched : int
        Queries used, gallery rows, and queries with a match (recall is over those).
    notes : tuple of str
        What the tab says about the choices (sampling, unmatched queries, banks).
    """

    query: str
    gallery: str
    pairing: str
    k: int
    temperature: float
    table: pl.DataFrame
    k_occurrence: dict[str, np.ndarray]
    hubness: dict[str, Hubness]
    recall: dict[str, RetrievalRecall] | None
    n_queries: int
    n_gallery: int
    n_matched: int
    notes: tuple[str, ...]


def _unit(X: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(check_matrix(X, name=name, action="retrieval"), dtype=np.float64)
    norms = row_norms(arr)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(f"{name} has {zero.size} all-zero rows (first: {first_rows(zero)}), which have no direction "
                         "for a cosine; drop them.")
    return arr / norms[:, None]


def _truth(queries: Embedding, gallery: Embedding, pairing: str, q_rows: np.ndarray,
           g_rows: np.ndarray) -> np.ndarray | None:
    """Gallery position of each query's match, -1 where it has none (None: no pairing)."""
    if pairing == NO_PAIRING:
        return None
    if pairing == ROW_ORDER:
        if gallery is not queries and q_rows.size != g_rows.size:
            raise ValueError(f"row order pairs query i with gallery row i, but there are {q_rows.size:,} queries "
                             f"and {g_rows.size:,} gallery rows. Choose rows of the same length (e.g. the "
                             "matching splits), or pair by an id column present in both.")
        positions = np.arange(q_rows.size)
        return np.where(positions < g_rows.size, positions, -1)
    for name, emb in (("queries", queries), ("gallery", gallery)):
        if emb.metadata is None or pairing not in emb.metadata.columns:
            raise ValueError(f"the {name} have no metadata column {pairing!r} to pair by; pair by a column present "
                             "in both, by row order, or by none (hubness only).")
    query_ids = queries.metadata[pairing].gather(q_rows).cast(pl.Utf8).to_list()
    gallery_ids = gallery.metadata[pairing].gather(g_rows).cast(pl.Utf8).to_list()
    position = {gid: i for i, gid in enumerate(gallery_ids) if gid is not None}
    if len(position) != len(gallery_ids):
        raise ValueError(f"metadata column {pairing!r} repeats a value (or is empty) among the gallery rows: a query "
                         "must have one match. Pair by a column that is unique in the gallery (an id), or by row "
                         "order.")
    return np.array([position.get(qid, -1) if qid is not None else -1 for qid in query_ids], dtype=np.int64)


def _capped(n_rows: int, n_gallery: int, seed: int) -> np.ndarray | None:
    """A seeded sorted sample of row positions so that rows x gallery fits MAX_CELLS (None: all fit)."""
    if n_rows * n_gallery <= MAX_CELLS:
        return None
    keep = max(1, MAX_CELLS // n_gallery)
    return np.sort(np.random.default_rng(seed).choice(n_rows, keep, replace=False))


def _rows(embedding: Embedding, split: str) -> np.ndarray:
    rows = embedding.rows(split)
    return np.arange(embedding.n_samples) if rows is None else rows


def _bank(embedding: Embedding, split: str, G: np.ndarray, name: str, seed: int,
          notes: list[str]) -> np.ndarray:
    rows = _rows(embedding, split)
    chosen = _capped(rows.size, G.shape[0], seed)
    if chosen is not None:
        notes.append(f"The {name} holds {chosen.size:,} of the {rows.size:,} {split!r} rows (a seeded sample).")
        rows = rows[chosen]
    return _unit(np.asarray(embedding.X)[rows], name) @ G.T


def _gallery_self_bank(G: np.ndarray, seed: int, notes: list[str]) -> np.ndarray:
    """The gallery against itself, each row left out of its own normaliser (-inf); sampled rows above MAX_CELLS."""
    if G.shape[0] < 2:
        raise ValueError("the gallery needs at least 2 rows to be its own bank; choose a gallery bank split.")
    chosen = _capped(G.shape[0], G.shape[0], seed)
    rows = np.arange(G.shape[0]) if chosen is None else chosen
    if chosen is not None:
        notes.append(f"The gallery bank holds {rows.size:,} of the {G.shape[0]:,} gallery rows (a seeded sample).")
    bank = G[rows] @ G.T
    bank[np.arange(rows.size), rows] = -np.inf  # an item is not its own bank
    return bank


def _compare(S: np.ndarray, *, k: int, temperature: float, truth: np.ndarray | None,
             query_bank: np.ndarray | None, gallery_bank: np.ndarray) -> tuple[pl.DataFrame, dict, dict, dict | None]:
    """Every method on S: the table, N_k per method at k, Hubness per method, recall per method."""
    n_gallery = S.shape[1]
    depth = min(max(k, max(RECALL_KS)), n_gallery)
    ks = tuple(r for r in RECALL_KS if r <= n_gallery)
    matched = None if truth is None else np.flatnonzero(truth >= 0)
    k_occ, hub, recall = {}, {}, ({} if matched is not None and matched.size else None)
    rows = []
    for method in METHODS:
        result = rerank_retrieval(S, method=method, k=depth, temperature=temperature, query_bank=query_bank,
                                  gallery_bank=gallery_bank if method == "dbnorm" else None,
                                  k_scale=min(10, n_gallery, S.shape[0] if query_bank is None else query_bank.shape[0]))
        h = hubness_from_neighbors(result.indices[:, :k], n_items=n_gallery, metric="cosine")
        k_occ[method], hub[method] = h.k_occurrence, h
        row = {"method": METHOD_NAMES[method]}
        if recall is not None:
            recall[method] = retrieval_recall(result.indices[matched], truth[matched], ks=ks)
            row.update(recall[method].as_dict())
        row.update({"skewness of N_k": h.skewness, "antihubs": h.antihub_occurrence,
                    "largest N_k": int(h.k_occurrence.max()), "queries re-normalised": result.n_normalised})
        rows.append(row)
    return pl.DataFrame(rows), k_occ, hub, recall


def _chance_note(recall: RetrievalRecall, n_gallery: int) -> list[str]:
    """A note when raw recall across two datasets is near chance (k / n_gallery): their spaces are not one."""
    top = max(recall.ks)
    chance = top / n_gallery
    if chance >= 0.5 or recall.at(top) > 2 * chance:
        return []
    return [f"Raw recall@{top} is {recall.at(top):.1%}, near chance ({chance:.1%}): the two datasets' coordinates "
            "do not look like one space. Cosine across datasets needs embeddings trained or projected into a "
            "shared space (CLIP's two towers, a fitted linear map); two separately trained models are not."]


def retrieval_panel(embedding: Embedding, *, query: str, gallery: str, pairing: str = NO_PAIRING, k: int = 10,
                    temperature: float = DEFAULT_TEMPERATURE, query_bank: str | None = None,
                    gallery_bank: str | None = None, seed: int = 0,
                    gallery_embedding: Embedding | None = None) -> RetrievalPanel:
    """Query rows retrieve gallery rows by cosine, with every re-ranking method.

    Parameters
    ----------
    embedding : Embedding
        The queries' embedding; `query` names its split ("all": every row).
    gallery_embedding : Embedding, optional
        The gallery's embedding (e.g. image embeddings for caption queries),
        with the same number of features; `gallery` names its split ("all":
        every row). None: the gallery is the split `gallery` of `embedding`,
        which must differ from `query`.
    pairing : str
        "row order" (query i matches gallery row i; with two embeddings both
        must have as many rows), a metadata column present in both (its values
        unique in the gallery), or "none (hubness only)".
    query_bank, gallery_bank : str, optional
        Splits whose rows are the banks (as Wang et al. 2023 use training
        data): the query bank a split of the queries' embedding, the gallery
        bank one of the gallery's. None means the queries themselves, and the
        gallery against itself with each row left out of its own normaliser
        (transductive, stated in `notes`).

    Queries without a match under `pairing` count for hubness but not for
    recall. S = Q_hat G_hat^T over L2-normalised rows, then every method of
    `analysis.metrics.retrieval.rerank_retrieval`.

    References
    ----------
    Wang, Jian & Xue (2023), Balance Act: Mitigating Hubness in Cross-Modal Retrieval with Query and Gallery
    Banks, EMNLP. Bogolin et al. (2022), Cross Modal Retrieval with Querybank Normalisation, CVPR.
    """
    queries = embedding
    galleries = embedding if gallery_embedding is None else gallery_embedding
    if galleries is queries and query == gallery:
        raise ValueError(f"queries and gallery are both the split {query!r}; choose two different splits.")
    same_space(queries, galleries)
    q_rows, g_rows = _rows(queries, query), _rows(galleries, gallery)
    notes: list[str] = []
    G = _unit(np.asarray(galleries.X)[g_rows], "gallery")
    k = check_k(k, n=G.shape[0], needs="gallery rows")
    truth = _truth(queries, galleries, pairing, q_rows, g_rows)
    chosen = _capped(q_rows.size, g_rows.size, seed)
    if chosen is not None:
        notes.append(f"{chosen.size:,} of the {q_rows.size:,} queries (a seeded sample): the similarity matrix is held "
                     f"at most {MAX_CELLS:,} cells.")
        q_rows = q_rows[chosen]
        truth = None if truth is None else truth[chosen]
    S = _unit(np.asarray(queries.X)[q_rows], "queries") @ G.T
    own_query_bank, own_gallery_bank = query_bank in (None, query), gallery_bank in (None, gallery)
    qbank = None if own_query_bank else _bank(queries, query_bank, G, "query bank", seed, notes)
    gbank = (_gallery_self_bank(G, seed, notes) if own_gallery_bank
             else _bank(galleries, gallery_bank, G, "gallery bank", seed, notes))
    said_query = ("the queries themselves (so QB-Norm equals the inverted softmax)" if own_query_bank
                  else f"split {query_bank!r}" + ("" if galleries is queries else " of the queries' data"))
    said_gallery = ("the gallery itself, each row left out of its own sum" if own_gallery_bank
                    else f"split {gallery_bank!r}" + ("" if galleries is queries else " of the gallery's data"))
    notes.append(f"Query bank: {said_query}; gallery bank (DBNorm): {said_gallery}.")
    matched = 0 if truth is None else int(np.sum(truth >= 0))
    if truth is not None and matched < truth.size:
        notes.append(f"{truth.size - matched:,} of {truth.size:,} queries have no match in the gallery under "
                     f"{pairing!r}; recall is over the other {matched:,}.")
    table, k_occ, hub, recall = _compare(S, k=k, temperature=float(temperature), truth=truth, query_bank=qbank,
                                         gallery_bank=gbank)
    if recall is not None and galleries is not queries:
        notes.extend(_chance_note(recall["none"], G.shape[0]))
    return RetrievalPanel(query=query, gallery=gallery, pairing=pairing, k=int(k), temperature=float(temperature),
                          table=table, k_occurrence=k_occ, hubness=hub, recall=recall, n_queries=int(q_rows.size),
                          n_gallery=int(g_rows.size), n_matched=matched, notes=tuple(notes))


# --------------------------------------------------------------------------- teaching demo


def demo_modalities(*, n_pairs: int, n_features: int, noise: float, hub_share: float, hub_pull: float,
                    seed: int, direction_seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two "modalities" of the same things: captions and images of shared latent vectors.

    Item i has a latent z_i ~ N(0, I_d). Its caption is z_i + noise + m and
    its image z_i + noise' + a_i m, where m is a fixed direction (the
    captions' mean, length sqrt(d) / 2) and a_i = `hub_pull` for a random
    `hub_share` of the images, 0 for the rest: those images lean towards
    every caption and become retrieval hubs. Rows are unit vectors; caption
    i matches image i. Returns captions, images and the pulled images' ids.
    m comes from `direction_seed`, the items from `seed`: two seeds are two
    samples of one world (a test set and a bank).
    """
    direction = np.random.default_rng(direction_seed).standard_normal(n_features)
    rng = np.random.default_rng(seed)
    mean = direction / np.linalg.norm(direction) * np.sqrt(n_features) / 2
    z = rng.standard_normal((n_pairs, n_features))
    captions = z + noise * rng.standard_normal((n_pairs, n_features)) + mean
    pull = np.where(rng.random(n_pairs) < hub_share, hub_pull, 0.0)
    images = z + noise * rng.standard_normal((n_pairs, n_features)) + pull[:, None] * mean
    return (captions / np.linalg.norm(captions, axis=1, keepdims=True),
            images / np.linalg.norm(images, axis=1, keepdims=True), np.flatnonzero(pull).astype(np.int64))


@dataclass(frozen=True, eq=False)
class RetrievalDemo:
    """The teaching demo: the methods on generated captions -> images, and the same data without hubs."""

    table: pl.DataFrame
    k_occurrence: dict[str, np.ndarray]
    recall: dict[str, RetrievalRecall]
    skewness: dict[str, float | None]
    recall_without_hubs: RetrievalRecall
    n_pairs: int
    n_hubs: int
    k: int


def retrieval_demo(*, k: int = 10, temperature: float = DEFAULT_TEMPERATURE,
                   n_pairs: int = DEMO["n_pairs"]) -> RetrievalDemo:
    """`demo_modalities` (seeded): test captions retrieve test images; banks are a second draw (training data)."""
    params = {**DEMO, "n_pairs": int(n_pairs)}
    captions, images, pulled = demo_modalities(**params)  # the banks share the direction m, not the items
    bank_captions, bank_images, _ = demo_modalities(**{**params, "seed": params["seed"] + 1})
    S = captions @ images.T
    truth = np.arange(params["n_pairs"])
    table, k_occ, hub, recall = _compare(S, k=k, temperature=temperature, truth=truth,
                                         query_bank=bank_captions @ images.T, gallery_bank=bank_images @ images.T)
    plain_captions, plain_images, _ = demo_modalities(**{**params, "hub_pull": 0.0})
    plain = rerank_retrieval(plain_captions @ plain_images.T, method="none", k=max(RECALL_KS))
    return RetrievalDemo(table=table, k_occurrence=k_occ, recall=recall,
                         skewness={m: h.skewness for m, h in hub.items()},
                         recall_without_hubs=retrieval_recall(plain.indices, truth, ks=RECALL_KS),
                         n_pairs=params["n_pairs"], n_hubs=int(pulled.size), k=int(k))

