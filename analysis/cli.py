"""The `replens` command.

    replens info FILE        what FILE holds and any problem with it
    replens samples [--out DIR] [--quick]
                             regenerate the shipped sample runs
    replens app [--port N]   start the web app
    replens report FILE [--labels FILE|COLUMN] [--layer L --step S] [--k 10] [--exact] [--scheduler ADDRESS]
                   [--html OUT] [--json OUT]
                             every diagnostic of one embedding, with verdicts
    replens compare A B [--layer L --step S] [--layer-b L --step-b S] [--labels ...]
                   [--html OUT] [--json OUT]
                             how alike two representations of the same inputs are
    replens capture MODEL_DIR [MODEL_DIR ...] INPUTS --out RUN.safetensors [--pooling mean|cls|last]
                   [--batch-size 32] [--max-length 128] [--text-column text] [--label-column COL]
                             every layer of a local transformers / timm model over texts or images, as a run

Subcommands are registered in `build_parser` by one ``_add_<name>_parser``
function each; commands that read an embedding share `load_cli_embedding`
(one file, an optional labels file or column, a run's layer and step).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any

from analysis.errors import CLI_ERRORS, user_message

# Bad input (a file that cannot be read or measured, a wrong option) exits 2 with one line on
# stderr in every command; 0 is success. argparse also exits 2 on a malformed command line.
EXIT_BAD_INPUT = 2


def _format_info(info: dict[str, Any]) -> str:
    lines = []
    for key, value in info.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k}: {v}" for k, v in value.items())
            lines.append(f"{key:>20}  {inner}")
        elif isinstance(value, list | tuple):
            lines.append(f"{key:>20}  {', '.join(str(v) for v in value)}")
        else:
            lines.append(f"{key:>20}  {value}")
    return "\n".join(lines)


def _bad_input(command: str, exc: BaseException, what: str | None) -> int:
    """The error boundary of every command: one line on stderr, exit 2, no traceback."""
    _note(f"{command}: {_one_line(user_message(exc, what))}")
    return EXIT_BAD_INPUT


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cmd_info(args: argparse.Namespace) -> int:
    from analysis.data.inspect import describe_file

    try:
        info = describe_file(args.file)  # reports a problem in the dict; guarded anyway
    except CLI_ERRORS as exc:
        info = {"ok": False, "error": user_message(exc, Path(args.file).name)}
    if info.get("ok", True):
        print(json.dumps(info, indent=2, default=str) if args.json else _format_info(info))
        return 0
    if args.json:  # scripts still get {"ok": false, "error": ...} on stdout
        print(json.dumps(info, indent=2, default=str))
    _note(f"info: {_one_line(str(info.get('error', 'cannot be read')))}")
    return EXIT_BAD_INPUT


def _cmd_samples(args: argparse.Namespace) -> int:
    from analysis.samples import generate_samples

    def progress(fraction: float, message: str) -> None:
        print(f"\r[{fraction:5.0%}] {message[:70]:<70}", end="", file=sys.stderr, flush=True)

    paths = generate_samples(args.out, quick=args.quick, progress=progress)
    print(file=sys.stderr)
    for path in paths:
        print(f"{path}  ({Path(path).stat().st_size / 1e6:.1f} MB)")
    return 0


def _cmd_app(args: argparse.Namespace) -> int:
    import subprocess

    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.exists():
        print("app.py not found: run `replens app` from a source checkout (make run).", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, "-m", "streamlit", "run", str(app),
                            "--server.address", args.host, "--server.port", str(args.port)])


class CliError(ValueError):
    """Bad input for a command: printed as one line on stderr, exit code 2."""


def _note(message: str) -> None:
    print(f"replens: {message}", file=sys.stderr, flush=True)


def _stderr_progress(fraction: float, message: str) -> None:
    """One line per step on stderr (a log reads better than a redrawn line)."""
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


def _labels_from_metadata(metadata: Any, column: str, n: int, where: str) -> Any:
    if metadata is None or column not in metadata.columns:
        available = [] if metadata is None else list(metadata.columns)
        raise CliError(
            f"--labels {column!r}: no such file, and {where} has no metadata column of that name"
            + (f" (columns: {', '.join(available[:10])})." if available else ".")
        )
    values = metadata[column].to_numpy()
    if values.shape[0] != n:
        raise CliError(f"--labels {column!r}: the column has {values.shape[0]} values for {n} rows.")
    return values


@functools.lru_cache(maxsize=4)
def _cached_run(path: str, mtime_ns: int, size: int) -> Any:
    from analysis.data import load_run

    return load_run(path)


def _run_file(path: str | Path) -> Any:
    """The RepLens run in `path`, or None for any other file. Opened once per command (compare reads
    A's and B's layer and step, then every layer of each), and again only if the file changes."""
    from analysis.data import is_run_file

    file = Path(path)
    if file.suffix.lower() != ".safetensors" or not file.is_file() or not is_run_file(file):
        return None
    stat = file.stat()
    return _cached_run(str(file.resolve()), stat.st_mtime_ns, stat.st_size)


def load_cli_embedding(
    path: str,
    *,
    labels: str | None = None,
    layer: str | None = None,
    step: int | None = None,
    key: str | None = None,
    pooling: str | None = None,
    flags: tuple[str, str] = ("--layer", "--step"),
) -> tuple[Any, Any, int | None]:
    """Read FILE for a command: (Embedding, VQ codes or None, codebook size or None).

    A RepLens run file gives the activations of `layer` at `step` (default:
    the last layer and the last step, said on stderr), its labels and, when
    the run has them, that cell's codes. Any other file goes through
    `analysis.data.load_embedding`. `labels` names a labels file, else a
    column of the table (or of the run's metadata). `flags` names the options
    that choose the layer and step, for the note. Raises `CliError` /
    ValueError with a message that names the problem.
    """
    from analysis.data import load_embedding
    from analysis.data.schema import Embedding

    file = Path(path)
    if not file.exists():
        raise CliError(f"{path}: no such file.")
    if file.is_dir():
        raise CliError(f"{path}: is a directory, not a file.")
    labels_is_file = labels is not None and Path(labels).is_file()
    run = _run_file(file)
    if run is not None:
        if layer is not None and layer not in run.layers:
            raise CliError(f"{file.name}: unknown layer {layer!r}; this run has {', '.join(run.layers)}.")
        if step is not None and int(step) not in run.steps:
            raise CliError(f"{file.name}: unknown step {step}; this run has "
                           f"{', '.join(str(s) for s in run.steps)}.")
        if layer is None or step is None:
            layer = run.layers[-1] if layer is None else layer
            step = run.steps[-1] if step is None else step
            _note(f"{file.name} is a run with layers {', '.join(run.layers)} and steps "
                  f"{', '.join(str(s) for s in run.steps)}; using layer {layer!r} at step {step} "
                  f"(pass {flags[0]} and {flags[1]} to choose).")
        emb = run.embedding(layer, int(step))
        if labels is not None:
            # The loaders' own labels reader and encoder: the same formats and messages as load_embedding.
            from analysis.data.formats.labels import _encode
            from analysis.data.loaders import _read_labels_source

            if labels_is_file:
                values, _ = _read_labels_source(labels, None)
            else:
                values = _labels_from_metadata(run.metadata, labels, emb.n_samples, file.name)
            codes, names = _encode(values, emb.n_samples, Path(labels).name, f"labels ({labels})")
            emb = Embedding(X=emb.X, labels=codes, label_names=names, metadata=emb.metadata, name=emb.name)
        codes = run.codes.get((layer, int(step)))
        codebook = run.codebooks.get((layer, int(step)))
        return emb, codes, None if codebook is None else int(codebook.shape[0])
    if layer is not None or step is not None:
        raise CliError(f"{file.name}: --layer and --step apply to RepLens run files only (.safetensors written "
                       "by save_run); remove them.")
    table = file.suffix.lower() in (".csv", ".parquet")
    if labels is not None and not labels_is_file and not table:
        raise CliError(f"--labels {labels}: no such file (a column name only works with .csv/.parquet tables).")
    emb = load_embedding(file, labels=labels if labels_is_file else None,
                         label_column=labels if labels is not None and not labels_is_file else None,
                         key=key, pooling=pooling)
    return emb, None, None


def _write_outputs(outputs: list[tuple[str | None, Any]]) -> None:
    """Write each (path, render) pair whose path is set, all or nothing: every text is rendered and every
    folder checked before the first file is written, so bad input leaves no half of the output behind."""
    texts = [(Path(out), render()) for out, render in outputs if out]
    for out, _ in texts:
        if not out.parent.is_dir():
            raise CliError(f"{out}: the folder {out.parent} does not exist; create it or write elsewhere.")
    for out, text in texts:
        out.write_text(text, encoding="utf-8")


def _say_written(*outputs: str | None) -> None:
    for out in outputs:
        if out:
            print(f"wrote {out}")


def _cmd_report(args: argparse.Namespace) -> int:
    from analysis.data import Selection
    from analysis.panels.report import report_panel

    if not args.html and not args.json:
        _note("report: give --html OUT and/or --json OUT (where to write the report).")
        return EXIT_BAD_INPUT
    try:
        emb, codes, codebook_size = load_cli_embedding(args.file, labels=args.labels, layer=args.layer,
                                                       step=args.step, key=args.key, pooling=args.pooling)
        _note(f"{emb.name}: {emb.n_samples:,} samples x {emb.n_features:,} features"
              + (f", {emb.n_classes} classes" if emb.labels is not None else ", no labels"))
        # The Report page's panel: the same diagnose call for the file's rows (with --labels applied).
        report = report_panel(Selection(emb), codes=codes, codebook_size=codebook_size, k=args.k,
                              metric=args.metric, seed=args.seed, exact=True if args.exact else None,
                              scheduler=args.scheduler,
                              progress=None if args.quiet else _stderr_progress).report
        _write_outputs([(args.json, lambda: report.to_json() + "\n"), (args.html, report.to_html)])
    except CLI_ERRORS as exc:
        labels = f" with labels {Path(args.labels).name}" if args.labels else ""
        return _bad_input("report", exc, Path(args.file).name + labels)
    counts = report.verdict_counts()
    for finding in report.findings:
        print(f"{finding.verdict.upper():<8} {finding.title}: {finding.reason}")
    print(", ".join(f"{n} {v}" for v, n in counts.items()) + f"  ({report.seconds:.1f} s)")
    _say_written(args.json, args.html)
    return 0


def _add_report_parser(sub: Any) -> None:
    report = sub.add_parser(
        "report", help="every diagnostic of one embedding, with verdicts, as HTML and/or JSON",
        description="Run every diagnostic that applies (hubness, uniformity, isotropy, effective rank, "
                    "spectrum, intrinsic dimension, neural collapse with labels, codebook usage with codes) "
                    "and compare each with a baseline of the same size. Progress goes to stderr.")
    report.add_argument("file", help="an embedding (.npy, .npz, .csv, .parquet, .safetensors, .pt) or a RepLens run")
    report.add_argument("--labels", metavar="FILE|COLUMN",
                        help="a labels file (.npy, .csv, .txt, .parquet), or a column of the table / run metadata")
    report.add_argument("--layer", help="run files: the layer (default: the last)")
    report.add_argument("--step", type=int, help="run files: the checkpoint step (default: the last)")
    report.add_argument("--key", help="containers (.npz, .safetensors, .pt): the array to use")
    report.add_argument("--pooling", choices=("mean", "last", "flatten"), help="3-D activations: how to pool tokens")
    report.add_argument("--k", type=int, default=10, help="neighbours for hubness (default: 10)")
    report.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    report.add_argument("--seed", type=int, default=0, help="seed of the baselines (default: 0)")
    report.add_argument("--scheduler", metavar="ADDRESS",
                        help="a dask.distributed scheduler, e.g. tcp://10.0.0.5:8786: kNN, neural collapse and the "
                             "spectrum run on its workers (needs the [scale] extra there and here)")
    report.add_argument("--exact", action="store_true",
                        help="exact kNN at any size (default: exact up to 200,000 rows, above that an approximate "
                             "index whose recall is measured and reported)")
    report.add_argument("--html", metavar="OUT", help="write a self-contained HTML report here")
    report.add_argument("--json", metavar="OUT", help="write the report as JSON here")
    report.add_argument("--quiet", action="store_true", help="no progress on stderr")
    report.set_defaults(func=_cmd_report)


def _run_layers(path: str, step: int | None) -> dict[str, Any] | None:
    """Every layer of a run file at `step` (default: the last), or None for any other file."""
    run = _run_file(path)
    if run is None:
        return None
    step = run.steps[-1] if step is None else int(step)
    return {layer: run.activations[(layer, step)] for layer in run.layers}


def _b_layer_and_step(args: argparse.Namespace) -> tuple[str | None, int | None]:
    """B's layer and step: --layer-b / --step-b, else A's --layer / --step where B's run has them, else None
    (B's last). Each is decided on its own, so ``--layer hidden --step-b 0`` compares hidden at the end with
    hidden at step 0."""
    layer, step = args.layer_b, args.step_b
    if (layer is None and args.layer is not None) or (step is None and args.step is not None):
        run = _run_file(args.b)
        if run is not None:
            if layer is None and args.layer in run.layers:
                layer = args.layer
            if step is None and args.step is not None and int(args.step) in run.steps:
                step = int(args.step)
    return layer, step


def _cmd_compare(args: argparse.Namespace) -> int:
    from analysis.comparison import compare

    if not args.html and not args.json:
        _note("compare: give --html OUT and/or --json OUT (where to write the comparison).")
        return EXIT_BAD_INPUT
    try:
        emb_a, _, _ = load_cli_embedding(args.a, labels=args.labels, layer=args.layer, step=args.step,
                                         key=args.key, pooling=args.pooling)
        layer_b, step_b = _b_layer_and_step(args)
        emb_b, _, _ = load_cli_embedding(args.b, layer=layer_b, step=step_b, key=args.key_b or args.key,
                                         pooling=args.pooling, flags=("--layer-b", "--step-b"))
        for side, emb in (("A", emb_a), ("B", emb_b)):
            _note(f"{side} = {emb.name}: {emb.n_samples:,} samples x {emb.n_features:,} features")
        layers_a = _run_layers(args.a, args.step)
        layers_b = _run_layers(args.b, step_b)
        both_runs = layers_a is not None and layers_b is not None
        result = compare(emb_a, emb_b, k=args.k, metric=args.metric, seed=args.seed,
                         layers_a=layers_a if both_runs else None, layers_b=layers_b if both_runs else None,
                         progress=None if args.quiet else _stderr_progress)
        _write_outputs([(args.json, lambda: result.to_json() + "\n"), (args.html, result.to_html)])
    except CLI_ERRORS as exc:
        return _bad_input("compare", exc, f"{Path(args.a).name} and {Path(args.b).name}")
    m = result.metrics
    print(f"linear CKA          {m['linear_cka']:.4f}  (B's rows shuffled: {m['linear_cka_shuffled']:.4f})")
    print(f"debiased CKA        {m['linear_cka_debiased']:.4f}")
    print(f"RBF CKA             {m['rbf_cka']:.4f}  (on {m['rbf_rows']:,} rows)")
    print(f"Procrustes distance {m['procrustes_distance']:.4f}  (shuffled: {m['procrustes_shuffled']:.4f})")
    print(f"k-NN Jaccard        {m['knn_jaccard']:.4f}  (chance: {m['knn_chance']:.4f}, k = {m['k']})")
    relative = "—" if m["relative_cosine"] is None else f"{m['relative_cosine']:.4f}"
    print(f"relative cosine     {relative}  ({m['n_anchors']} anchors, {m['relative_rows']:,} non-zero rows)"
          + ("" if m["absolute_cosine"] is None else f"; absolute cosine {m['absolute_cosine']:.4f}"))
    if m["stitching"]:
        st = m["stitching"]
        print(f"stitching accuracy  A->A {st['accuracy_same']:.3f}, A->B absolute "
              f"{st['accuracy_stitched_absolute']:.3f}, relative {st['accuracy_stitched_relative']:.3f}")
    if result.layers:
        print(f"layer x layer CKA   {len(result.layers['rows'])} x {len(result.layers['columns'])} in the HTML/JSON")
    print(f"({result.seconds:.1f} s)")
    _say_written(args.json, args.html)
    return 0


def _add_compare_parser(sub: Any) -> None:
    cmp = sub.add_parser(
        "compare", help="how alike two representations of the same inputs are, as HTML and/or JSON",
        description="Compare two representations of the same inputs (two layers, checkpoints, seeds or models; "
                    "row i of each is the same input): linear CKA (plain, debiased), RBF CKA, Procrustes "
                    "distance, k-NN agreement, relative representations and, with labels and equal widths, "
                    "zero-shot stitching. Two run files also give the layer x layer CKA matrix. "
                    "Progress goes to stderr.")
    cmp.add_argument("a", help="first embedding or RepLens run")
    cmp.add_argument("b", help="second embedding or run (the same inputs in the same order); may be the same run "
                               "file as A with another --layer-b or --step-b")
    cmp.add_argument("--labels", metavar="FILE|COLUMN",
                     help="labels of the rows (a file, or a column of A's table / run metadata); default: A's "
                          "or B's own")
    cmp.add_argument("--layer", help="run files: A's layer (default: the last); also B's unless --layer-b")
    cmp.add_argument("--step", type=int, help="run files: A's checkpoint (default: the last); also B's unless "
                                              "--step-b")
    cmp.add_argument("--layer-b", help="run files: B's layer")
    cmp.add_argument("--step-b", type=int, help="run files: B's checkpoint")
    cmp.add_argument("--key", help="containers (.npz, .safetensors, .pt): the array to use in A (and B)")
    cmp.add_argument("--key-b", help="containers: the array to use in B, if it differs")
    cmp.add_argument("--pooling", choices=("mean", "last", "flatten"), help="3-D activations: how to pool tokens")
    cmp.add_argument("--k", type=int, default=10, help="neighbours for the k-NN agreement (default: 10)")
    cmp.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    cmp.add_argument("--seed", type=int, default=0, help="seed of the references and subsamples (default: 0)")
    cmp.add_argument("--html", metavar="OUT", help="write a self-contained HTML page here")
    cmp.add_argument("--json", metavar="OUT", help="write the numbers as JSON here")
    cmp.add_argument("--quiet", action="store_true", help="no progress on stderr")
    cmp.set_defaults(func=_cmd_compare)


def _cmd_capture(args: argparse.Namespace) -> int:
    from analysis.capture_run import capture_run

    *models, inputs = args.paths
    if not models:
        _note("capture: give at least one MODEL_DIR and then the INPUTS (a file or a folder of images).")
        return EXIT_BAD_INPUT

    def progress(fraction: float, message: str) -> None:
        if not args.quiet:
            print(f"\r[{fraction:5.0%}] {message[:90]:<90}", end="", file=sys.stderr, flush=True)

    try:
        out = capture_run(models, inputs, args.out, pooling=args.pooling, batch_size=args.batch_size,
                          max_length=args.max_length, text_column=args.text_column,
                          label_column=args.label_column, threads=args.threads, progress=progress)
    except CLI_ERRORS as exc:
        if not args.quiet:
            print(file=sys.stderr)
        return _bad_input("capture", exc, None)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        _note("capture: stopped; nothing was written.")
        return 130
    if not args.quiet:
        print(file=sys.stderr)
    size = out.stat().st_size + out.with_suffix(".parquet").stat().st_size
    print(f"wrote {out} and {out.with_suffix('.parquet').name} ({size / 1e6:.1f} MB)")
    return 0


def _add_capture_parser(sub: Any) -> None:
    cap = sub.add_parser(
        "capture", help="every layer of a local transformers or timm model over texts or images, as a run",
        description="Run a local model folder (transformers save_pretrained, or timm with config.json and "
                    "model.safetensors) over texts or images and save every layer's activations, pooled to "
                    "one vector per example, as a RepLens run. Several MODEL_DIRs (checkpoints of one model) "
                    "become the run's steps. Weights only from safetensors, no code from the folder, no "
                    "network. Progress goes to stderr; Ctrl-C stops without writing.")
    cap.add_argument("paths", nargs="+", metavar="MODEL_DIR [MODEL_DIR ...] INPUTS",
                     help="model folder(s), then the inputs: a .txt (one example per line), a .csv/.parquet "
                          "with a text column, or a folder of images (labels: sub-folder names)")
    cap.add_argument("--out", required=True, metavar="RUN.safetensors", help="the run file to write")
    cap.add_argument("--pooling", choices=("mean", "cls", "last"),
                     help="tokens -> one vector: mean over real tokens, first (CLS) or last real token "
                          "(default: mean for text; CLS for vision transformers; feature maps are always "
                          "average-pooled)")
    cap.add_argument("--batch-size", type=int, default=32, help="examples per forward pass (default: 32)")
    cap.add_argument("--max-length", type=int, default=128, help="texts: truncate to this many tokens (default: 128)")
    cap.add_argument("--text-column", default="text", help="tables: the column holding the texts (default: text)")
    cap.add_argument("--label-column", help="tables: the column holding the labels (optional)")
    cap.add_argument("--threads", type=int, help="torch threads (default: the cores, at most 8)")
    cap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    cap.set_defaults(func=_cmd_capture)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="replens", description="Look inside a neural network's latent space.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="describe an embedding or run file and report any problem with it")
    info.add_argument("file", help="a .npy, .npz, .csv, .parquet, .safetensors or .pt file")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=_cmd_info)
    samples = sub.add_parser("samples", help="regenerate the shipped sample runs")
    samples.add_argument("--out", default="sample_data", help="output folder (default: sample_data)")
    samples.add_argument("--quick", action="store_true", help="a tiny, fast version (for tests)")
    samples.set_defaults(func=_cmd_samples)
    app = sub.add_parser("app", help="start the web app")
    app.add_argument("--host", default="127.0.0.1")
    app.add_argument("--port", type=int, default=8501)
    app.set_defaults(func=_cmd_app)
    _add_report_parser(sub)
    _add_compare_parser(sub)
    _add_capture_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
