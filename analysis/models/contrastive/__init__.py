"""The contrastive lab: a small encoder trained with NT-Xent onto the circle or the sphere.

`train_contrastive` trains an MLP encoder whose outputs are L2-normalised (each
sample lands on the unit circle for ``out_dim=2``, on the 2-sphere for
``out_dim=3``) with the NT-Xent / InfoNCE loss of SimCLR: two augmented views
of every sample are pulled together and pushed away from the other views of
the batch. With ``negatives=False`` only the pulling term is left; nothing
then keeps the points apart and they all collapse to one point, the failure
that negatives (or tricks such as BYOL's predictor) exist to prevent.

At log-spaced checkpoints (initialisation included) the run records every
sample's clean (unaugmented) embedding, layer ``"embedding"``, and the
encoder's last hidden layer, layer ``"hidden"``. Its curves hold the loss and
the alignment and uniformity of Wang & Isola (2020), so a page can draw the
training trajectory in the alignment-uniformity plane.

Augmentations (`augment_images`) for the 8x8 digits: random integer shifts
(zero fill), random pixel masking and Gaussian pixel noise. They act on the
pixels scaled to [0, 1] (``load_digits() / 16``), where 0 is the blank
background, so that a shifted-in or masked pixel is blank paper; the encoder
reads those pixels directly. (Per-pixel standardised images have no common
"blank" value: zero there is each pixel's mean grey.) The Gaussian mixture
gets noise and masking (a masked feature is set to 0) and no shifts.

Where things live: ``config`` (`ContrastiveConfig`, `CONTRASTIVE_PRESETS`),
``augment``, ``encoder`` (the model, NT-Xent, alignment and uniformity) and
``train``; every public name is re-exported here.

References
----------
.. [1] T. Chen, S. Kornblith, M. Norouzi and G. Hinton, "A simple framework
   for contrastive learning of visual representations", ICML 2020 (SimCLR,
   NT-Xent).
.. [2] A. van den Oord, Y. Li and O. Vinyals, "Representation learning with
   contrastive predictive coding", arXiv:1807.03748, 2018 (InfoNCE).
.. [3] T. Wang and P. Isola, "Understanding contrastive representation
   learning through alignment and uniformity on the hypersphere", ICML 2020.
"""

from analysis.models.contrastive.augment import augment_images, shift_images
from analysis.models.contrastive.config import (
    CONTRASTIVE_DATASETS,
    CONTRASTIVE_PRESETS,
    ContrastiveConfig,
)
from analysis.models.contrastive.encoder import (
    ContrastiveEncoder,
    alignment_uniformity,
    nt_xent_loss,
)
from analysis.models.contrastive.train import train_contrastive

__all__ = [
    "CONTRASTIVE_DATASETS",
    "CONTRASTIVE_PRESETS",
    "ContrastiveConfig",
    "ContrastiveEncoder",
    "alignment_uniformity",
    "augment_images",
    "nt_xent_loss",
    "shift_images",
    "train_contrastive",
]
