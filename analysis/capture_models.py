"""Open a local model folder for activation capture, safely: no code, no pickle, no network.

A model folder is one of

- a Hugging Face transformers folder written by ``save_pretrained``: ``config.json``
  whose ``model_type`` is an architecture transformers ships, weights in
  ``model.safetensors`` (or shards listed in ``model.safetensors.index.json``),
  and a tokenizer (text models) or an image processor (vision models);
- a timm folder (``timm``'s ``save_for_timm`` / ``push_to_hf_hub`` layout):
  ``config.json`` with an ``architecture`` that `timm.is_model` knows (and
  optionally ``num_classes``, ``model_args``, ``pretrained_cfg``) and the weights
  in ``model.safetensors``.

Rules, each a ValueError that names the fix:

- weights only from safetensors: a folder holding only ``pytorch_model.bin``,
  ``.pt``, ``.pth`` or ``.ckpt`` (pickles, which can run code when loaded) is
  refused with how to convert it;
- never code from the folder: ``trust_remote_code=False`` always, and a config
  with ``auto_map`` (an architecture defined by the folder's own ``.py`` files)
  is refused; other ``.py`` files are ignored, never imported;
- no network: ``local_files_only=True`` and ``HF_HUB_OFFLINE=1`` /
  ``TRANSFORMERS_OFFLINE=1`` while loading.

transformers and timm are imported lazily (the ``models`` extra installs them).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["KINDS", "LoadedModel", "check_model_dir", "load_model", "offline"]

KINDS = ("text", "vision", "timm")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                    "spiece.model", "sentencepiece.bpe.model")
_CONVERT = ("Convert it once, in a trusted Python session: load the model and call "
            "model.save_pretrained(folder, safe_serialization=True) (transformers), or "
            "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') (timm, plain torch).")


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to run: its kind ("text", "vision", "timm"), module and preprocessor."""

    kind: str
    model: Any  # torch.nn.Module in eval mode
    processor: Any  # tokenizer, image processor, or a timm transform (callable on a PIL image)
    name: str
    path: Path
    architecture: str


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Hugging Face libraries set offline for the duration (environment restored afterwards)."""
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: "1" for k in keys})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise ValueError(
            f"{folder}: no config.json. A model folder is what transformers' save_pretrained or "
            "timm's save_for_timm writes (config.json + model.safetensors)."
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc}).") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a JSON object; the folder's config is corrupt.")
    return config


def _check_weights(folder: Path) -> None:
    if (folder / "model.safetensors").is_file() or (folder / "model.safetensors.index.json").is_file():
        return
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in _PICKLE_SUFFIXES)
    if pickles:
        raise ValueError(
            f"{folder}: the weights are in {pickles[0]}, a pickle that can run code when loaded; "
            f"RepLens loads weights only from model.safetensors. {_CONVERT}"
        )
    raise ValueError(f"{folder}: no model.safetensors (the weights). {_CONVERT}")


def check_model_dir(path: str | os.PathLike) -> tuple[Path, dict[str, Any], str]:
    """Validate a model folder without importing anything: (folder, config, kind).

    Raises
    ------
    ValueError
        Not a folder, no/invalid config.json, code in the config (``auto_map``),
        weights only in a pickle, or no weights.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder. Give the folder a model was saved to.")
    config = _read_config(folder)
    if "auto_map" in config:
        code = sorted(p.name for p in folder.glob("*.py"))
        raise ValueError(
            f"{folder}: config.json has 'auto_map', i.e. the architecture is defined by Python code in the "
            f"folder{' (' + ', '.join(code[:3]) + ')' if code else ''}. RepLens never runs code from a model "
            "folder (trust_remote_code is off). Use an architecture transformers ships, or save the "
            "weights in a folder whose model_type transformers knows."
        )
    _check_weights(folder)
    if isinstance(config.get("architecture"), str) and "model_type" not in config:
        return folder, config, "timm"
    model_type = config.get("model_type")
    if not isinstance(model_type, str):
        raise ValueError(
            f"{folder}: config.json has neither a transformers 'model_type' nor a timm 'architecture'; "
            "RepLens cannot tell which architecture to build."
        )
    has_tokenizer = any((folder / f).is_file() for f in _TOKENIZER_FILES)
    has_images = (folder / "preprocessor_config.json").is_file() and not has_tokenizer
    return folder, config, "vision" if has_images else "text"


def _known_transformers_type(folder: Path, model_type: str) -> None:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        raise ValueError(
            f"{folder}: model_type {model_type!r} is not an architecture this transformers version "
            "ships (and RepLens never runs code from a model folder). Check the spelling in "
            "config.json, or upgrade transformers."
        )


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No load report or progress bar on stderr while loading (the caller reports progress)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()


def _load_transformers(folder: Path, config: dict[str, Any], kind: str) -> LoadedModel:
    import transformers

    model_type = config["model_type"]
    _known_transformers_type(folder, model_type)
    common = {"local_files_only": True, "trust_remote_code": False}
    if kind == "text":
        try:
            processor = transformers.AutoTokenizer.from_pretrained(folder, **common)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(
                f"{folder}: the tokenizer could not be loaded ({str(exc).splitlines()[0][:200]}). Save it "
                "beside the model with tokenizer.save_pretrained(folder)."
            ) from None
        processor.padding_side = "right"  # the "last" pooling reads the last real token by its mask
        if processor.pad_token is None:
            processor.pad_token = processor.eos_token or processor.unk_token
    else:
        try:
            processor = transformers.AutoImageProcessor.from_pretrained(folder, **common)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(
                f"{folder}: the image processor could not be loaded ({str(exc).splitlines()[0][:200]}). "
                "Save it beside the model with image_processor.save_pretrained(folder)."
            ) from None
    try:
        with _quiet_transformers():
            model = transformers.AutoModel.from_pretrained(folder, use_safetensors=True, **common)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(
            f"{folder}: the {model_type} model could not be loaded ({str(exc).splitlines()[0][:200]})."
        ) from None
    model.eval()
    return LoadedModel(kind=kind, model=model, processor=processor, name=folder.name, path=folder,
                       architecture=type(model).__name__)


def _load_timm(folder: Path, config: dict[str, Any]) -> LoadedModel:
    try:
        import timm
        import timm.data
    except Exception as exc:  # noqa: BLE001 - timm fails in many ways when torchvision is broken
        raise ValueError(
            f"{folder}: a timm model folder, but timm cannot be imported here ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:160] if str(exc) else ''}). Install the 'models' extra with a "
            "torchvision that matches torch."
        ) from None
    from safetensors.torch import load_file

    arch = config["architecture"]
    if not timm.is_model(arch):
        raise ValueError(
            f"{folder}: architecture {arch!r} is not a model timm {timm.__version__} knows. Check the "
            "name in config.json (timm.list_models() lists them)."
        )
    kwargs = dict(config.get("model_args") or {})
    if "num_classes" in config:
        kwargs.setdefault("num_classes", config["num_classes"])
    if isinstance(config.get("pretrained_cfg"), dict):
        kwargs["pretrained_cfg_overlay"] = config["pretrained_cfg"]
    model = timm.create_model(arch, pretrained=False, **kwargs)
    state = load_file(str(folder / "model.safetensors"))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"{folder}: model.safetensors does not fit {arch} with these settings "
            f"({str(exc).splitlines()[0][:200]}). Check num_classes / model_args in config.json."
        ) from None
    if not hasattr(model, "forward_intermediates"):
        raise ValueError(
            f"{folder}: timm's {arch} has no forward_intermediates, which RepLens uses to read every "
            "stage. Upgrade timm (>= 1.0), or use an architecture that has it."
        )
    model.eval()
    data_config = timm.data.resolve_model_data_config(model)
    transform = timm.data.create_transform(**data_config, is_training=False)
    return LoadedModel(kind="timm", model=model, processor=transform, name=folder.name, path=folder,
                       architecture=arch)


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Load a model folder (see the module docstring for what is accepted and refused).

    Parameters
    ----------
    path : path-like
        A local folder. Nothing is downloaded and no code from the folder runs.

    Returns
    -------
    LoadedModel
        In eval mode, on the CPU.
    """
    folder, config, kind = check_model_dir(path)
    with offline():
        if kind == "timm":
            return _load_timm(folder, config)
        return _load_transformers(folder, config, kind)
