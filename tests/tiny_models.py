"""Tiny models with random weights, saved like real ones, for the capture tests (no download).

`tiny_bert` writes a 2-layer BERT (hidden 32, 2 heads) with a WordPiece tokenizer over a
25-token vocabulary built here with the tokenizers library; `tiny_vit` a 2-layer ViT (32 x 32 images, 8 x 8 patches) with its image
processor. Both through ``save_pretrained(..., safe_serialization=True)``.
"""

from __future__ import annotations

from pathlib import Path

WORDS = ["the", "cat", "dog", "sat", "on", "a", "mat", "ran", "far", "big", "small", "red", "blue",
         "bird", "flew", "home", "and", "then", "slept", "ate"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_bert(folder: Path, *, seed: int = 0, max_positions: int = 160) -> Path:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {token: i for i, token in enumerate(SPECIAL + WORDS)}
    core = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    core.normalizer = normalizers.BertNormalizer(lowercase=True)
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(SPECIAL) + len(WORDS), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=max_positions)
    model = BertModel(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_vit(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(seed)
    config = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=64)
    model = ViTModel(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def sentences(n: int, *, seed: int = 0, words: int = 8) -> list[str]:
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, words))) for _ in range(n)]


def image_folder(folder: Path, *, per_class: int = 3, seed: int = 0) -> Path:
    """Random RGB images in two sub-folders (the classes) "cats" and "dogs"."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for cls in ("cats", "dogs"):
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(40, 36, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / cls / f"{i}.png")
    return folder
