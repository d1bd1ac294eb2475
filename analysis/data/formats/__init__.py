"""Format readers behind `analysis.data.loaders` (DESIGN.md sections 2 and 5).

The public entry point, its safety rules and the documented loading choices are
in `analysis.data.loaders` (its module docstring); this package holds the code
that reads each format:

- `common`: errors, the `_Source` being read, format sniffing, the shape, dtype
  and memory-budget checks run on declared sizes, and `_Raw` / `_Options`.
- `npy`: .npy headers (literal-only) and arrays.
- `containers`: choosing the embedding (and labels) among the arrays of an
  npz/safetensors/pt container.
- `zips`: zip directory checks (sizes, compression, zip bombs) and .npz.
- `safetensors`: safetensors headers and tensors (bfloat16 widened).
- `torch_pt`: torch.save archives, read with ``weights_only=True``.
- `csv_text`: CSV text: UTF-8, header detection, ragged-row messages.
- `tables`: CSV and Parquet tables -> embedding, labels and metadata.
- `labels`: separate labels files and label encoding.
"""
