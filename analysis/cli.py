"""The `replens` command.

    replens info FILE        what FILE holds and any problem with it
    replens samples [--out DIR] [--quick]
                             regenerate the shipped sample runs
    replens app [--port N]   start the web app
    replens report FILE [--labels FILE|COLUMN] [--layer L --step S] [--k 10]
                   [--html OUT] [--json OUT]
                             every diagnostic of one embedding, with verdicts

Subcommands are registered in `build_parser` by one ``_add_<name>_parser``
function each; commands that read an embedding share `load_cli_embedding`
(one file, an optional labels file or column, a run's layer and step).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

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


def _cmd_info(args: argparse.Namespace) -> int:
    from analysis.data.inspect import describe_file

    info = describe_file(args.file)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        print(_format_info(info))
    return 0 if info.get("ok", True) else 1


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


def load_cli_embedding(
    path: str,
    *,
    labels: str | None = None,
    layer: str | None = None,
    step: int | None = None,
    key: str | None = None,
    pooling: str | None = None,
) -> tuple[Any, Any, int | None]:
    """Read FILE for a command: (Embedding, VQ codes or None, codebook size or None).

    A RepLens run file gives the activations of `layer` at `step` (default:
    the last layer and the last step, said on stderr), its labels and, when
    the run has them, that cell's codes. Any other file goes through
    `analysis.data.load_embedding`. `labels` names a labels file, else a
    column of the table (or of the run's metadata). Raises `CliError` /
    ValueError with a message that names the problem.
    """
    from analysis.data import is_run_file, load_embedding, load_run
    from analysis.data.schema import Embedding

    file = Path(path)
    if not file.exists():
        raise CliError(f"{path}: no such file.")
    if file.is_dir():
        raise CliError(f"{path}: is a directory, not a file.")
    labels_is_file = labels is not None and Path(labels).is_file()
    if file.suffix.lower() == ".safetensors" and is_run_file(file):
        run = load_run(file)
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
                  "(pass --layer and --step to choose).")
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


def _cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import diagnose

    if not args.html and not args.json:
        _note("report: give --html OUT and/or --json OUT (where to write the report).")
        return EXIT_BAD_INPUT
    try:
        emb, codes, codebook_size = load_cli_embedding(args.file, labels=args.labels, layer=args.layer,
                                                       step=args.step, key=args.key, pooling=args.pooling)
        _note(f"{emb.name}: {emb.n_samples:,} samples x {emb.n_features:,} features"
              + (f", {emb.n_classes} classes" if emb.labels is not None else ", no labels"))
        report = diagnose(emb, codes=codes, codebook_size=codebook_size, k=args.k, metric=args.metric,
                          seed=args.seed, progress=None if args.quiet else _stderr_progress)
        for out, write in ((args.json, report.to_json), (args.html, report.to_html)):
            if out:
                write(out)
    except (ValueError, OSError) as exc:
        _note(f"report: {exc}")
        return EXIT_BAD_INPUT
    counts = report.verdict_counts()
    for finding in report.findings:
        print(f"{finding.verdict.upper():<8} {finding.title}: {finding.reason}")
    print(", ".join(f"{n} {v}" for v, n in counts.items()) + f"  ({report.seconds:.1f} s)")
    for out in (args.json, args.html):
        if out:
            print(f"wrote {out}")
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
    report.add_argument("--html", metavar="OUT", help="write a self-contained HTML report here")
    report.add_argument("--json", metavar="OUT", help="write the report as JSON here")
    report.add_argument("--quiet", action="store_true", help="no progress on stderr")
    report.set_defaults(func=_cmd_report)


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
