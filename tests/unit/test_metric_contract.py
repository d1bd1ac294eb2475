"""One contract for every public metric (DESIGN.md sections 3, 5, 6 and 7).

The scikit-learn "common checks" idea: a registry table says, for each name
in ``analysis.metrics.__all__``, how to build valid inputs and which
invariances the metric promises; the same checks then run over all of them:

- valid input gives a result: a frozen dataclass of Python scalars and numpy
  arrays with a JSON-ready ``to_dict()`` (or the plain float / ndarray the
  docstring promises), every number finite, no RuntimeWarning, the inputs
  left unmodified, and the same output when called twice;
- bad input (n = 1, 2, n <= k, d = 1, random small shapes, NaN / Inf /
  1e30 / 1e-30 / 1e160 rows, zero, constant, duplicated and rounding-level
  rows, float32, NaN / negative / huge / single label codes) gives finite
  numbers or a ValueError, nothing else (no LinAlgError, ZeroDivisionError,
  IndexError, silent NaN); NaN and Inf always give a ValueError, and so do
  the cases an entry lists in ``must_raise`` (no spread, zero rows);
- each declared invariance (row permutation, rotation, isotropic scale,
  translation, per-row scale, relabelling classes) holds, scale also at
  exact powers of two up to 2^+-300 (there a ValueError may refuse);
- float32 input gives the float64 result of the same values.

Adding a metric: one ``Entry`` line in ``REGISTRY`` (reusing an ``Inputs``
kind below or adding one). ``test_registry_covers_every_metric`` fails for
a name in ``__all__`` without an entry, so none can be forgotten. A failing
case is named ``<entry id>:<case>``, e.g. ``hubness:scale*2^70`` or
``uniformity:1e160_row:X``; to reproduce one, run that test id.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import analysis.metrics as metrics

# --------------------------------------------------------------------------- input kinds

Make = Callable[[np.random.Generator, int, int], dict[str, Any]]


@dataclass(frozen=True)
class Inputs:
    """How to build valid inputs of one kind, and what role each input plays.

    make(rng, n, d) returns the metric's array arguments by keyword for n
    samples of width d (valid for the base shape; the bad-input checks reuse
    it at other shapes). ``rows`` are permuted together (the samples);
    each group in ``spaces`` lives in one space and gets one rotation, scale
    and translation (a list input gets an independent draw per element);
    ``labels`` hold class or code ids.
    """

    make: Make
    rows: tuple[str, ...] = ("X",)
    spaces: tuple[tuple[str, ...], ...] = (("X",),)
    labels: tuple[str, ...] = ()


def _classes(n: int, n_classes: int = 3) -> np.ndarray:
    return np.arange(n) % n_classes


def _clustered(rng: np.random.Generator, labels: np.ndarray, d: int) -> np.ndarray:
    means = 4.0 * rng.standard_normal((int(labels.max()) + 1, d))
    return means[labels] + rng.standard_normal((labels.size, d))


def _related(rng: np.random.Generator, X: np.ndarray, width: int) -> np.ndarray:
    """A second representation of the same inputs: a random linear map plus noise."""
    return X @ rng.standard_normal((X.shape[1], width)) + 0.3 * rng.standard_normal((X.shape[0], width))


CLOUD = Inputs(lambda rng, n, d: {"X": rng.standard_normal((n, d))})
TWO_SPACES = Inputs(
    lambda rng, n, d: (lambda X: {"X": X, "Y": _related(rng, X, d + 1)})(rng.standard_normal((n, d))),
    rows=("X", "Y"), spaces=(("X",), ("Y",)),
)
PAIRED_VIEWS = Inputs(
    lambda rng, n, d: (lambda x: {"x": x, "y": x + 0.2 * rng.standard_normal(x.shape)})(
        rng.standard_normal((n, d))),
    rows=("x", "y"), spaces=(("x", "y"),),
)
VIEWS_WITH_LABELS = Inputs(
    lambda rng, n, d: {"x": _clustered(rng, _classes(n), d), "labels": _classes(n)},
    rows=("x", "labels"), spaces=(("x",),), labels=("labels",),
)
LABELLED_FEATURES = Inputs(
    lambda rng, n, d: {"features": _clustered(rng, _classes(n), d), "labels": _classes(n)},
    rows=("features", "labels"), spaces=(("features",),), labels=("labels",),
)
LAYER_AND_LABELS = Inputs(
    lambda rng, n, d: {"T": _clustered(rng, _classes(n, 2), d), "y": _classes(n, 2)},
    rows=("T", "y"), spaces=(("T",),), labels=("y",),
)
CONTINUOUS_PAIR = Inputs(
    lambda rng, n, d: (lambda A: {"A": A, "B": A + 0.5 * rng.standard_normal(A.shape)})(
        rng.standard_normal((n, d))),
    rows=("A", "B"), spaces=(("A", "B"),),
)
WEIGHTS = Inputs(lambda rng, n, d: {"W": rng.standard_normal((n, d))}, rows=("W",), spaces=(("W",),))
CLOUD_AND_ANCHORS = Inputs(
    lambda rng, n, d: {"X": rng.standard_normal((n, d)), "anchors": rng.standard_normal((4, d))},
    rows=("X",), spaces=(("X", "anchors"),),
)
LAYERS = Inputs(
    lambda rng, n, d: (lambda X: {"reps_a": [X, _related(rng, X, d + 2), np.tanh(X)]})(
        rng.standard_normal((n, d))),
    rows=("reps_a",), spaces=(("reps_a",),),
)
CODES = Inputs(lambda rng, n, d: {"codes": rng.integers(0, 8, n)}, rows=("codes",), spaces=(),
               labels=("codes",))
CODES_FULL = Inputs(
    lambda rng, n, d: (lambda codebook, codes: {
        "codes": codes, "labels": codes % 3, "codebook": codebook,
        "vectors": codebook[codes] + 0.1 * rng.standard_normal((n, d))})(
        rng.standard_normal((8, d)), rng.integers(0, 6, n)),
    rows=("codes", "labels", "vectors"), spaces=(("codebook", "vectors"),), labels=("labels",),
)
# Queries x gallery similarities (n queries, d gallery items); dbnorm's gallery bank beside them.
SIMILARITY = Inputs(lambda rng, n, d: {"similarity": rng.uniform(-1, 1, (n, d))}, rows=("similarity",),
                    spaces=(("similarity",),))
SIMILARITY_BANKS = Inputs(
    lambda rng, n, d: {"similarity": rng.uniform(-1, 1, (n, d)), "gallery_bank": rng.uniform(-1, 1, (4, d))},
    rows=("similarity",), spaces=(("similarity",),))
RETRIEVED = Inputs(
    lambda rng, n, d: {"indices": np.argsort(rng.random((n, d)), axis=1), "truth": rng.integers(0, d, n)},
    rows=("indices", "truth"), spaces=())
CLASSIFIER_AND_COUNTS = Inputs(
    lambda rng, n, d: {"classifier": rng.standard_normal((n, d)), "class_counts": 3 * rng.permutation(n) + 1},
    rows=("classifier", "class_counts"), spaces=(("classifier",),),
)
ROW_COUNT = Inputs(lambda rng, n, d: {"n_samples": n}, rows=(), spaces=())
ROW_COUNT_AND_LABELS = Inputs(lambda rng, n, d: {"n_samples": n, "labels": _classes(n)},
                              rows=(), spaces=(), labels=("labels",))


# --------------------------------------------------------------------------- the registry

INVARIANCES = ("permutation", "rotation", "scale", "translation", "row_scale", "relabel")
EUCLIDEAN = "permutation rotation scale translation"
NO_SPREAD = ("constant_rows", "all_zero")  # no spread at all: a ratio of spreads is 0/0
ZERO_ROWS = ("zero_row", "all_zero")  # a zero row has no direction: cosines are undefined


@dataclass(frozen=True)
class Entry:
    """One registry line: a public metric, its inputs, options and promised invariances.

    ``invariant`` lists tokens from INVARIANCES separated by spaces; a token
    ``scale=a,b`` compares only outputs a and b under that transform.
    ``compare`` names the outputs checked (dotted for nested results; default:
    the result's SCALARS, or the float / array itself, as ``value``);
    ``row_outputs`` are compared outputs whose first axis follows the rows;
    ``must_raise`` names bad-input cases (DATA_SPOILERS) that must give a
    ValueError, beyond NaN and Inf which always must; ``nan_documented`` are
    array fields whose docstring defines a NaN entry (they must still export
    as strict JSON).
    """

    metric: str
    inputs: Inputs
    opts: dict[str, Any] = field(default_factory=dict)
    invariant: str = ""
    compare: tuple[str, ...] = ()
    row_outputs: tuple[str, ...] = ()
    must_raise: tuple[str, ...] = ()
    nan_documented: tuple[str, ...] = ()
    tag: str = ""
    rtol: float = 1e-7

    @property
    def id(self) -> str:
        return self.metric + (f"[{self.tag}]" if self.tag else "")

    def transforms(self) -> dict[str, tuple[str, ...]]:
        """{transform: outputs compared under it (empty: the entry's default)}."""
        out: dict[str, tuple[str, ...]] = {}
        for token in self.invariant.split():
            name, _, only = token.partition("=")
            assert name in INVARIANCES, f"{self.id}: unknown invariance {name!r}"
            out[name] = tuple(only.split(",")) if only else ()
        return out

    def call(self, inputs: dict[str, Any]) -> Any:
        return getattr(metrics, self.metric)(**inputs, **self.opts)


E = Entry
HUB = ("k_occurrence", "skewness", "robin_hood", "gini", "atkinson", "antihub_occurrence")
REDUCED = ("hubness.skewness", "hubness.k_occurrence")
REGISTRY: tuple[Entry, ...] = (
    E("alignment", PAIRED_VIEWS, invariant="permutation rotation scale row_scale", must_raise=ZERO_ROWS),
    E("alignment", VIEWS_WITH_LABELS, tag="labels", invariant="permutation rotation scale row_scale relabel",
      must_raise=ZERO_ROWS),
    E("choose_anchors", ROW_COUNT, opts={"n_anchors": 3}),
    E("choose_anchors", ROW_COUNT_AND_LABELS, opts={"method": "per_class"}, tag="per_class"),
    E("cka_matrix", LAYERS, invariant=EUCLIDEAN, must_raise=NO_SPREAD),
    E("codebook_usage", CODES, opts={"codebook_size": 8}, invariant="permutation relabel"),
    E("codebook_usage", CODES_FULL, opts={"codebook_size": 8}, tag="full",
      invariant="permutation rotation translation relabel=perplexity,normalized_entropy,utilization",
      compare=("perplexity", "normalized_entropy", "utilization", "mutual_information", "purity",
               "quantization_error"), nan_documented=("quantization_error",)),
    E("covariance_spectrum", CLOUD, invariant="permutation rotation translation scale=explained_variance_ratio",
      compare=("eigenvalues", "explained_variance_ratio"), must_raise=NO_SPREAD),
    E("effective_rank", CLOUD, invariant=EUCLIDEAN, compare=("effective_rank",), must_raise=NO_SPREAD),
    E("hubness", CLOUD, opts={"k": 5}, invariant=EUCLIDEAN, compare=HUB, row_outputs=("k_occurrence",),
      must_raise=NO_SPREAD),
    E("hubness", CLOUD, opts={"k": 5, "metric": "cosine"}, tag="cosine", invariant="permutation rotation scale row_scale",
      compare=HUB, row_outputs=("k_occurrence",), must_raise=NO_SPREAD + ZERO_ROWS),
    E("information_plane_point", LAYER_AND_LABELS, invariant="permutation relabel", tag="binning"),
    E("information_plane_point", LAYER_AND_LABELS, opts={"estimator": "kde"}, tag="kde",
      invariant="permutation rotation translation relabel", rtol=1e-5),  # float32 kernels
    E("information_plane_point", LAYER_AND_LABELS, opts={"estimator": "ksg"}, tag="ksg"),
    E("information_plane_point", LAYER_AND_LABELS, opts={"estimator": "adaptive_binning"}, tag="adaptive_binning",
      invariant="permutation scale translation relabel"),
    E("information_plane_point", LAYER_AND_LABELS, opts={"estimator": "adaptive_kde"}, tag="adaptive_kde",
      invariant="permutation scale relabel", rtol=1e-5),  # float32 kernels
    E("intrinsic_dimension", CLOUD, invariant=EUCLIDEAN, tag="twonn", must_raise=NO_SPREAD,
      rtol=1e-5),  # float32 neighbour distances
    E("intrinsic_dimension", CLOUD, opts={"method": "mle", "k": 4}, invariant=EUCLIDEAN, tag="mle",
      must_raise=NO_SPREAD, rtol=1e-5),
    E("isotropy", CLOUD, invariant="permutation rotation scale=iso_score,mean_cosine translation=iso_score",
      must_raise=NO_SPREAD + ZERO_ROWS),
    E("knn_agreement", TWO_SPACES, opts={"k": 5}, invariant=EUCLIDEAN, compare=("mean_jaccard", "per_point"),
      row_outputs=("per_point",), must_raise=NO_SPREAD),
    E("ksg_mutual_information", CONTINUOUS_PAIR, invariant="permutation scale translation"),
    E("linear_cka", TWO_SPACES, invariant=EUCLIDEAN, must_raise=NO_SPREAD),
    E("linear_cka", TWO_SPACES, opts={"debiased": True}, tag="debiased", invariant=EUCLIDEAN, must_raise=NO_SPREAD),
    E("neural_collapse", LABELLED_FEATURES, invariant=EUCLIDEAN + " relabel", must_raise=NO_SPREAD,
      compare=("nc1", "nc1_trace_quotient", "cdnv", "nc2_equinorm", "nc2_equiangular", "nc2_max_angle",
               "etf_distance", "size_norm_spearman", "ncc_accuracy")),
    E("procrustes_distance", TWO_SPACES, invariant=EUCLIDEAN, must_raise=NO_SPREAD),
    E("rbf_cka", TWO_SPACES, invariant=EUCLIDEAN, must_raise=NO_SPREAD),
    E("reduce_hubness", CLOUD, opts={"k": 4}, tag="mutual_proximity", invariant=EUCLIDEAN, compare=REDUCED,
      row_outputs=("hubness.k_occurrence",), must_raise=NO_SPREAD),
    E("reduce_hubness", CLOUD, opts={"method": "local_scaling", "k": 4}, tag="local_scaling", invariant=EUCLIDEAN,
      compare=REDUCED, row_outputs=("hubness.k_occurrence",), must_raise=NO_SPREAD),
    E("reduce_hubness", CLOUD, opts={"method": "csls", "k": 4, "metric": "cosine"}, tag="csls_cosine",
      invariant="permutation rotation scale row_scale", compare=REDUCED, row_outputs=("hubness.k_occurrence",),
      must_raise=NO_SPREAD + ZERO_ROWS),
    E("relative_representation", CLOUD_AND_ANCHORS, invariant="permutation rotation scale row_scale",
      row_outputs=("value",), must_raise=ZERO_ROWS),
    *(E("rerank_retrieval", SIMILARITY_BANKS if m == "dbnorm" else SIMILARITY,
        opts={"method": m, "k": 3, "k_scale": 1}, tag=m, invariant="permutation",
        compare=("indices", "hubness_after.k_occurrence"), row_outputs=("indices",))
      for m in ("none", "csls", "inverted_softmax", "qb_norm", "dbnorm")),
    E("retrieval_recall", RETRIEVED, opts={"ks": (1, 2)}, invariant="permutation", compare=("recall", "hit_rank"),
      row_outputs=("hit_rank",)),
    E("superposition_geometry", WEIGHTS, invariant="permutation rotation scale=feature_dimensionality,mean_squared_overlap",
      compare=("feature_norms", "superposition", "feature_dimensionality", "dimensions_per_feature",
               "mean_squared_overlap"),
      row_outputs=("feature_norms", "superposition", "feature_dimensionality")),
    E("uniformity", CLOUD, invariant="permutation rotation scale row_scale", must_raise=ZERO_ROWS),
    # Whitening (issue 19): the whitened rows follow the rows; ZCA and PCA whitening are scale-free,
    # all-but-the-top is scale-equivariant (its rank is not); all are translation-invariant.
    E("pca_whitening", CLOUD, invariant="permutation scale translation", compare=("transformed",),
      row_outputs=("transformed",), must_raise=NO_SPREAD, rtol=1e-6),
    E("zca_whitening", CLOUD, invariant="permutation scale translation", compare=("transformed",),
      row_outputs=("transformed",), must_raise=NO_SPREAD, rtol=1e-6),
    E("zipfian_whitening", CLOUD, invariant="permutation scale translation", compare=("transformed",),
      row_outputs=("transformed",), must_raise=NO_SPREAD, rtol=1e-6),
    E("all_but_the_top", CLOUD, invariant="permutation translation scale=rank,n_removed",
      compare=("transformed", "rank", "n_removed"), row_outputs=("transformed",), must_raise=NO_SPREAD, rtol=1e-6),
    # CCA family and convergent learning (issue 19 section 3); CCA's invariance to any invertible linear
    # map is checked in tests/unit/test_cca.py (the registry's transforms are rotations).
    E("cca_correlations", TWO_SPACES, invariant=EUCLIDEAN, compare=("mean", "correlations"), must_raise=NO_SPREAD),
    E("svcca", TWO_SPACES, invariant=EUCLIDEAN, compare=("mean", "correlations"), must_raise=NO_SPREAD),
    E("pwcca", TWO_SPACES, invariant="permutation scale translation", must_raise=NO_SPREAD),
    E("neuron_matching", TWO_SPACES, invariant="permutation scale translation",
      compare=("mean_matched", "mean_max", "assignment"), must_raise=NO_SPREAD),
    E("minority_collapse", CLASSIFIER_AND_COUNTS, invariant="permutation rotation scale row_scale",
      must_raise=ZERO_ROWS),
    E("transfer_collapse", LABELLED_FEATURES, opts={"n_draws": 3}, invariant=EUCLIDEAN + " relabel",
      must_raise=NO_SPREAD),
)

# Contract cases known to break the contract, each with the bug it shows.
# Every one is still run and must still fail: once it holds, the test says to
# delete it here. Empty: every metric meets the contract.
KNOWN_OPEN: set[str] = set()

# --------------------------------------------------------------------------- helpers

N, D = 24, 5  # the valid base shape
SEED = 20_261_206


def _rng(*keys: object) -> np.random.Generator:
    """A generator seeded by the case, so every case is reproducible on its own."""
    return np.random.default_rng([SEED, *(zlib.crc32(str(k).encode()) for k in keys)])


def _arrays(value: Any) -> list[np.ndarray]:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, np.ndarray)]
    return []


def _map(value: Any, fn: Callable[[np.ndarray], np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        return fn(value)
    if isinstance(value, list):
        return [fn(v) for v in value]
    return value


def _orthogonal(rng: np.random.Generator, d: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _outputs(entry: Entry, result: Any, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """The compared outputs of one result, by name."""
    if isinstance(result, (float, np.ndarray)):
        return {"value": result}
    out = {}
    for name in only or entry.compare or type(result).SCALARS:
        value = result
        for part in name.split("."):
            value = getattr(value, part)
        out[name] = value
    return out


def _numbers(value: Any, path: str = "result") -> list[tuple[str, Any]]:
    """Every number in a result, with where it sits: scalars, arrays, nested results, tuples."""
    if value is None or isinstance(value, str):
        return []
    if dataclasses.is_dataclass(value):
        return [found for f in dataclasses.fields(value)
                for found in _numbers(getattr(value, f.name), f"{path}.{f.name}")]
    if isinstance(value, (tuple, list)):
        return [found for i, v in enumerate(value) for found in _numbers(v, f"{path}[{i}]")]
    return [(path, value)]


def _check_result(result: Any, nan_documented: tuple[str, ...] = ()) -> None:
    """The shape of a result (DESIGN.md section 3): finite numbers, right types, JSON-ready."""
    plain = isinstance(result, (float, np.ndarray))
    if plain:
        numbers = [("result", result)]
    else:
        cls = type(result)
        assert dataclasses.is_dataclass(result), f"{cls.__name__} is not a dataclass"
        assert cls.__dataclass_params__.frozen, f"{cls.__name__} is not frozen"
        assert callable(getattr(result, "to_dict", None)), f"{cls.__name__} has no to_dict()"
        numbers = _numbers(result)
    for path, value in numbers:
        if isinstance(value, np.ndarray):
            assert value.dtype.kind in "biuf", f"{path} has dtype {value.dtype}"
            bad = ~np.isfinite(value)
            if path.removeprefix("result.") in nan_documented:
                bad &= ~np.isnan(value)
            assert not bad.any(), f"{path} has {int(bad.sum())} non-finite values: {value[bad][:5]}"
        elif isinstance(value, (bool, int)):
            assert type(value) in (bool, int), f"{path} is {type(value).__name__}, not a Python int"
        else:
            assert type(value) is float, f"{path} is {type(value).__name__}, not a Python float"
            assert math.isfinite(value), f"{path} = {value}"
    if not plain:
        json.dumps(result.to_dict(), allow_nan=False)


@dataclass
class Outcome:
    """One call: its result, or the exception it raised, and the RuntimeWarnings on the way."""

    result: Any
    error: BaseException | None
    runtime_warnings: list[str]

    @property
    def refused(self) -> bool:
        """A ValueError, the one accepted way to refuse (LinAlgError subclasses it: not accepted)."""
        return isinstance(self.error, ValueError) and not isinstance(self.error, np.linalg.LinAlgError)

    def check(self, entry: Entry, *, must_raise: bool = False, may_raise: bool = True) -> None:
        """Finite numbers or a ValueError (as allowed), nothing else."""
        if self.error is not None and not self.refused:
            raise AssertionError(f"raised {type(self.error).__name__}: {self.error}") from self.error
        if must_raise:
            assert self.refused, f"expected a ValueError, got {self.result!r}"
        if self.refused:
            assert may_raise, f"refused valid input: {self.error}"
            return
        assert not self.runtime_warnings, f"RuntimeWarning with a returned result: {self.runtime_warnings}"
        _check_result(self.result, entry.nan_documented)


def _run(entry: Entry, inputs: dict[str, Any]) -> Outcome:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = entry.call(inputs), None
        except Exception as err:  # judged by Outcome.check
            result, error = None, err
    return Outcome(result, error, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)])


def _known_open(case: str, check: Callable[[], None]) -> None:
    """Run `check`; a case in KNOWN_OPEN must still fail it (and is reported when it passes)."""
    if case not in KNOWN_OPEN:
        check()
        return
    try:
        check()
    except AssertionError:
        return
    pytest.fail(f"{case} now meets the contract: delete it from KNOWN_OPEN.")


def _compare(entry: Entry, before: dict[str, Any], after: dict[str, Any], *, what: str,
             perm: np.ndarray | None = None, rtol: float | None = None) -> None:
    for key, value in before.items():
        other = after[key]
        if perm is not None and key in entry.row_outputs:
            other = np.asarray(other)[np.argsort(perm)]
        message = f"{entry.id} output {key} {what}"
        if value is None or other is None or isinstance(value, (bool, str)):
            assert value == other, f"{message}: {value!r} != {other!r}"
        else:
            np.testing.assert_allclose(np.asarray(other, dtype=float), np.asarray(value, dtype=float),
                                       rtol=rtol or entry.rtol, atol=1e-9, err_msg=message)


# --------------------------------------------------------------------------- the checks

ENTRY_IDS = [e.id for e in REGISTRY]


def test_registry_covers_every_metric():
    registered = {e.metric for e in REGISTRY}
    missing = sorted(set(metrics.__all__) - registered)
    assert not missing, (
        f"analysis.metrics.__all__ lists {missing} with no entry in REGISTRY of {__file__}: "
        "add one Entry line saying how to build valid inputs and which invariances it promises."
    )
    unknown = sorted(registered - set(metrics.__all__))
    assert not unknown, f"REGISTRY names {unknown}, which analysis.metrics.__all__ does not export."
    assert len(set(ENTRY_IDS)) == len(ENTRY_IDS), "two registry entries share an id: give one a tag"
    stale = sorted(case for case in KNOWN_OPEN if case.partition(":")[0] not in ENTRY_IDS)
    assert not stale, f"KNOWN_OPEN names cases of no registry entry: {stale}"


@pytest.mark.parametrize("entry", REGISTRY, ids=ENTRY_IDS)
def test_valid_input_gives_a_finite_json_ready_result(entry):
    inputs = entry.inputs.make(_rng(entry.id, "valid"), N, D)
    before = copy.deepcopy(inputs)
    outcome = _run(entry, inputs)
    _known_open(f"{entry.id}:valid", lambda: outcome.check(entry, may_raise=False))
    for name, value in before.items():
        for old, new in zip(_arrays(value), _arrays(inputs[name]), strict=True):
            np.testing.assert_array_equal(new, old, err_msg=f"{entry.id} modified its input {name}")


@pytest.mark.parametrize("entry", REGISTRY, ids=ENTRY_IDS)
def test_same_input_gives_the_same_output(entry):
    inputs = entry.inputs.make(_rng(entry.id, "valid"), N, D)
    first, second = entry.call(inputs), entry.call(copy.deepcopy(inputs))
    if isinstance(first, (float, np.ndarray)):
        np.testing.assert_array_equal(second, first)
    else:
        assert json.dumps(second.to_dict()) == json.dumps(first.to_dict())


# --------------------------------------------------------------------------- bad input

Spoil = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _replace_row(value: float) -> Spoil:
    def spoil(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = arr.astype(np.float64, copy=True)
        out[rng.integers(len(out))] = value
        return out
    return spoil


def _scaled_row(factor: float) -> Spoil:
    def spoil(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = arr.astype(np.float64, copy=True)
        out[rng.integers(len(out))] *= factor
        return out
    return spoil


def _duplicate_rows(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = arr.copy()
    out[1::2] = out[0::2][: len(out[1::2])]
    return out


def _rounding_noise(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Identical rows up to a few ulps: every spread is rounding, so ratios of spreads are 0/0."""
    out = np.repeat(arr[:1].astype(np.float64), len(arr), axis=0)
    return out * (1.0 + 4e-16 * rng.standard_normal(out.shape))


# name -> (how to spoil one float input, must it raise whatever the metric?)
DATA_SPOILERS: dict[str, tuple[Spoil, bool]] = {
    "nan_row": (_replace_row(np.nan), True),
    "inf_row": (_replace_row(np.inf), True),
    "neg_inf_row": (_replace_row(-np.inf), True),
    "1e30_row": (_scaled_row(1e30), False),
    "1e-30_row": (_scaled_row(1e-30), False),
    "1e160_row": (_scaled_row(1e160), False),
    "zero_row": (_replace_row(0.0), False),
    "all_zero": (lambda arr, rng: np.zeros_like(arr, dtype=np.float64), False),
    "constant_rows": (lambda arr, rng: np.repeat(arr[:1], len(arr), axis=0), False),
    "rounding_noise": (_rounding_noise, False),
    "duplicate_rows": (_duplicate_rows, False),
    "all_1e30": (lambda arr, rng: arr * 1e30, False),
    "all_1e-30": (lambda arr, rng: arr * 1e-30, False),
    "all_1e160": (lambda arr, rng: arr * 1e160, False),
    "all_1e-160": (lambda arr, rng: arr * 1e-160, False),
    "float32": (lambda arr, rng: arr.astype(np.float32), False),
}


def _label_value(value: float) -> Spoil:
    def spoil(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = arr.astype(np.float64 if isinstance(value, float) else np.int64, copy=True)
        out[rng.integers(len(out))] = value
        return out
    return spoil


LABEL_SPOILERS: dict[str, tuple[Spoil, bool]] = {
    "label_nan": (_label_value(np.nan), True),  # a missing label is not a class
    "label_negative": (_label_value(-1), False),
    "label_huge": (_label_value(2**62), False),
    "label_one_class": (lambda arr, rng: np.zeros_like(arr), False),
}


def _bad_cases() -> list[tuple[Entry, str]]:
    cases = []
    for entry in REGISTRY:
        k = entry.opts.get("k", 3)
        shapes = ["n=1", "n=2", "n=3", f"n={k}", "d=1"] + [f"random{i}" for i in range(4)]
        cases += [(entry, s) for s in dict.fromkeys(shapes)]
        data = [name for group in entry.inputs.spaces for name in group]
        cases += [(entry, f"{spoil}:{name}") for name in data for spoil in DATA_SPOILERS]
        cases += [(entry, f"{spoil}:{name}") for name in entry.inputs.labels for spoil in LABEL_SPOILERS]
    return cases


BAD_CASES = _bad_cases()


@pytest.mark.parametrize(("entry", "case"), BAD_CASES, ids=[f"{e.id}:{c}" for e, c in BAD_CASES])
def test_bad_input_gives_finite_numbers_or_value_error(entry, case):
    rng = _rng(entry.id, case)
    must_raise = False
    if case.startswith("n="):
        inputs = entry.inputs.make(rng, int(case[2:]), D)
    elif case == "d=1":
        inputs = entry.inputs.make(rng, N, 1)
    elif case.startswith("random"):
        inputs = entry.inputs.make(rng, int(rng.integers(1, 13)), int(rng.integers(1, 7)))
    else:
        spoil_name, _, target = case.partition(":")
        spoil, must_raise = {**DATA_SPOILERS, **LABEL_SPOILERS}[spoil_name]
        must_raise = must_raise or spoil_name in entry.must_raise
        inputs = entry.inputs.make(rng, N, D)
        if isinstance(inputs[target], list):  # spoil the first of several representations
            inputs[target] = [spoil(inputs[target][0], rng), *inputs[target][1:]]
        else:
            inputs[target] = spoil(inputs[target], rng)
    outcome = _run(entry, inputs)
    _known_open(f"{entry.id}:{case}", lambda: outcome.check(entry, must_raise=must_raise))


# --------------------------------------------------------------------------- invariances

# Scale factors beyond the moderate one: powers of two scale exactly, so any
# difference is overflow, underflow or an absolute threshold, not rounding.
# Up to 2^+-70 (about 1e+-21, well inside even float32's range) the result
# must not change; at 2^+-200 and 2^+-300 (1e+-60, 1e+-90) a metric may
# instead refuse with a ValueError (squares leave float32, or squares of
# squares leave float64), but never return another number.
EXACT_SCALES = {"scale*2^70": 2.0**70, "scale*2^-70": 2.0**-70}
LENIENT_SCALES = {"scale*2^200": 2.0**200, "scale*2^-200": 2.0**-200,
                  "scale*2^300": 2.0**300, "scale*2^-300": 2.0**-300}


def _transform(entry: Entry, name: str, inputs: dict[str, Any],
               rng: np.random.Generator) -> tuple[dict[str, Any], np.ndarray | None]:
    """Apply invariance `name` to the inputs; return them with the row permutation (or None)."""
    out = dict(inputs)
    roles = entry.inputs
    if name == "permutation":
        perm = rng.permutation(len(_arrays(inputs[roles.rows[0]])[0]))
        for key in roles.rows:
            out[key] = _map(inputs[key], lambda a: a[perm])
        return out, perm
    if name == "relabel":
        for key in roles.labels:
            out[key] = rng.permutation(int(inputs[key].max()) + 1)[inputs[key]]
        return out, None

    def draw(d: int) -> Callable[[np.ndarray], np.ndarray]:
        if name == "rotation":
            q = _orthogonal(rng, d)
            return lambda a: a @ q
        if name.startswith("scale"):
            c = {**EXACT_SCALES, **LENIENT_SCALES}.get(name) or float(rng.uniform(0.2, 5.0))
            return lambda a: a * c
        if name == "translation":
            shift = 3.0 * rng.standard_normal(d)
            return lambda a: a + shift
        assert name == "row_scale"
        return lambda a: a * rng.uniform(0.2, 5.0, size=(len(a), 1))

    for group in roles.spaces:
        # One draw per group (its members share a space); a list holds separate spaces.
        widths = {a.shape[1] for key in group for a in _arrays(inputs[key])}
        shared = draw(widths.pop()) if len(widths) == 1 and not any(
            isinstance(inputs[key], list) for key in group) else None
        for key in group:
            out[key] = _map(inputs[key], shared or (lambda a: draw(a.shape[1])(a)))
    return out, None


INVARIANCE_CASES = [
    (e, variant) for e in REGISTRY for t in e.transforms()
    for variant in ([t, *EXACT_SCALES, *LENIENT_SCALES] if t == "scale" else [t])
]


@pytest.mark.parametrize(("entry", "transform"), INVARIANCE_CASES,
                         ids=[f"{e.id}:{t}" for e, t in INVARIANCE_CASES])
def test_declared_invariance_holds(entry, transform):
    rng = _rng(entry.id, transform)
    inputs = entry.inputs.make(rng, N, D)
    moved, perm = _transform(entry, transform, inputs, rng)
    only = entry.transforms()[transform.partition("*")[0]]
    before = _outputs(entry, entry.call(inputs), only)
    outcome = _run(entry, moved)

    def check() -> None:
        outcome.check(entry, may_raise=transform in LENIENT_SCALES)
        if not outcome.refused:
            _compare(entry, before, _outputs(entry, outcome.result, only), what=f"under {transform}", perm=perm)

    _known_open(f"{entry.id}:{transform}", check)


# --------------------------------------------------------------------------- dtypes

FLOAT32_CASES = [(e, c) for e in REGISTRY if e.inputs.spaces for c in ("plain", "1e20_row")]


@pytest.mark.parametrize(("entry", "case"), FLOAT32_CASES, ids=[f"{e.id}:float32_{c}" for e, c in FLOAT32_CASES])
def test_float32_input_gives_the_float64_result(entry, case):
    """The same values as float32 or float64 give the same result (a float32 1e20 squares past float32's range)."""
    rng = _rng(entry.id, "float32", case)
    inputs = entry.inputs.make(rng, N, D)
    if case == "1e20_row":
        key = entry.inputs.spaces[0][0]
        inputs[key] = _map(inputs[key], lambda a: _scaled_row(1e20)(a, rng))
    data = {name for group in entry.inputs.spaces for name in group}
    as32 = {k: _map(v, lambda a: a.astype(np.float32)) if k in data else v for k, v in inputs.items()}
    as64 = {k: _map(v, lambda a: a.astype(np.float64)) if k in data else v for k, v in as32.items()}
    reference, outcome = _run(entry, as64), _run(entry, as32)

    def check() -> None:
        reference.check(entry)
        outcome.check(entry)
        assert reference.refused == outcome.refused, (
            f"float64 {'refused' if reference.refused else 'accepted'} the values, float32 "
            f"{'refused' if outcome.refused else 'accepted'} them: {reference.error or outcome.error}")
        if not outcome.refused:
            _compare(entry, _outputs(entry, reference.result), _outputs(entry, outcome.result),
                     what="float32 vs float64", rtol=max(entry.rtol, 1e-6))

    _known_open(f"{entry.id}:float32_{case}", check)
