"""The VQ lab: a small vector-quantised autoencoder on the digits, and the codebook-collapse remedies.

`train_vq` trains ``encoder -> vector quantiser with K codes -> decoder`` on
the standardised 8x8 digits (`digits_dataset`) with a mean-squared
reconstruction loss and the straight-through estimator [1]_. A plain VQ-VAE
typically ends up using a small part of its codebook: codes that no encoder
output is nearest to get no gradient and never move ("dead codes"). Each of
the remedies users reach for is a switch of `VQConfig`:

- ``ema``: the codebook follows exponential moving averages of the encoder
  outputs assigned to each code instead of a codebook loss [2]_;
- ``kmeans_init``: the codebook starts at k-means centres of the encoder's
  outputs on the first batches [3]_;
- ``restart_dead``: every ``restart_every`` steps, codes unused since the last
  restart jump to random encoder outputs of the current batch [3]_, [4]_;
- ``cosine``: encoder outputs and codes are L2-normalised before the
  nearest-code lookup (and the decoder reads the unit-norm code) [5]_;
- ``lookup_dim``: factorised, low-dimensional codes [5]_: a learned linear
  map projects the ``code_dim`` encoder output to ``lookup_dim``, the
  codebook lives there, and a second linear map takes the chosen code back
  to ``code_dim`` for the decoder.

At log-spaced checkpoints (initialisation included) the run records every
sample's quantiser input (layer ``"encoder"``), its reconstruction (layer
``"reconstruction"``, standardised pixels), its code and the codebook; the
curves hold the train and test reconstruction MSE, the perplexity of the
train codes and the share of dead codes.

Where things live: ``config`` (`VQConfig`, `VQ_PRESETS`), ``model``
(`VQAutoencoder`, `code_usage`) and ``train`` (`train_vq`); every public name
is re-exported here.

References
----------
.. [1] A. van den Oord, O. Vinyals and K. Kavukcuoglu, "Neural discrete
   representation learning", NeurIPS 2017 (VQ-VAE).
.. [2] A. Razavi, A. van den Oord and O. Vinyals, "Generating diverse
   high-fidelity images with VQ-VAE-2", NeurIPS 2019 (EMA updates).
.. [3] Ł. Kaiser et al., "Fast decoding in sequence models using discrete
   latent variables", ICML 2018 / A. Łańcucki et al., "Robust training of
   vector quantized bottleneck models", IJCNN 2020 (k-means initialisation,
   codebook re-initialisation).
.. [4] P. Dhariwal et al., "Jukebox: a generative model for music",
   arXiv:2005.00341, 2020 (random restarts of dead codes).
.. [5] J. Yu et al., "Vector-quantized image modeling with improved VQGAN",
   ICLR 2022 (factorised low-dimensional codes, L2-normalised codes).
"""

from analysis.models.vq.config import VQ_PRESETS, VQConfig
from analysis.models.vq.model import VQAutoencoder, code_usage
from analysis.models.vq.train import train_vq

__all__ = [
    "VQ_PRESETS",
    "VQAutoencoder",
    "VQConfig",
    "code_usage",
    "train_vq",
]
