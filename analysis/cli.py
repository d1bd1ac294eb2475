"""The `replens` command.

    replens info FILE        what FILE holds and any problem with it
    replens samples [--out DIR] [--quick]
                             regenerate the shipped sample runs
    replens app [--port N]   start the web app
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
