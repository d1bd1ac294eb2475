"""The 12-bit information-bottleneck lab of Shwartz-Ziv & Tishby (2017) and Saxe et al. (2018).

The task
--------
The inputs are all 2^12 = 4,096 binary vectors x in {0, 1}^12
(`twelve_bit_inputs`: row r is the binary expansion of r, most significant
bit first). As in Shwartz-Ziv & Tishby, the label is a "spherically
symmetric" function of the bits: bit i sits on vertex v_i of a regular
icosahedron (`icosahedron_vertices`, unit vectors), each bit becomes a spin
``s_i = 2 x_i - 1`` and

    f(x) = || sum_i s_i v_i ||^2 = 12 + 2 sum_{i<j} s_i s_j (v_i . v_j),

the squared length of the spins' resultant vector (large when the ones
gather on one side of the sphere and the zeros on the other). The label is
``y = 1`` iff ``f(x) > LABEL_THRESHOLD = 12 - 4/sqrt(5) ~= 10.211``, i.e. iff
``f(x) >= 8 + 8/sqrt(5) ~= 11.578``. f takes 20 distinct values on the 4,096
inputs; cutting between ``16 - 16/sqrt(5) ~= 8.845`` and ``8 + 8/sqrt(5)`` is
the cut whose positive share is closest to 1/2: 2,036 of 4,096 inputs,
`POSITIVE_SHARE` = 0.49707 (the neighbouring cuts give 0.380 and 0.556).
(12 is the mean of f over all inputs, since distinct spins are uncorrelated.)

Every symmetry of the icosahedron (the 120 rotations and reflections)
permutes the vertices, hence the bits, and leaves f, so the label, unchanged;
so does flipping every bit (s -> -s). The paper describes its rule only as
a spherically symmetric function of 12 points spread on a sphere, thresholded
so that p(y=1) ~ 1/2; this is the simplest such rule, and it needed no
replacement: it splits the inputs almost evenly and the 12-10-7-5-4-3-2
network learns it to 100 % train and ~99.8 % test accuracy.

The network and its training
----------------------------
`train_information_lab` trains the fully connected 12-10-7-5-4-3-2 network
(five hidden layers, tanh or ReLU, two logits) on a stratified 85 % / 15 %
split with Adam (`train_mlp` with AdamW and zero weight decay, which is
Adam), a constant learning rate and cross-entropy, recording every hidden
layer's activations on all 4,096 inputs (train rows first, then test) at 30
log-spaced checkpoints. The defaults follow the reference code of
Shwartz-Ziv & Tishby (Adam, learning rate 4e-4, batch 256, tanh) but train
2,000 epochs (28,000 steps) instead of 8,000-10,000, which keeps a run at
about 30 s on one CPU thread and is enough to show both phases.

With the binning estimator (30 bins per unit over each layer's range across
all checkpoints, `analysis.metrics.information.information_plane_point`),
measured with seed 0 on one CPU thread: in the tanh network I(T;Y) of
hidden3-5 rises from ~0 to ~1 bit as the net fits (steps ~500-5,000), and
afterwards I(X;T) falls in the deeper layers: hidden5 from 6.27 bits (step
1,661) to 1.34, hidden4 from 7.90 (step 2,364) to 6.16, hidden3 from 10.83
to 10.30 (hidden1-2 keep all 12 bits throughout). Seeds 1 and 2 agree
(hidden5 7.90 -> 1.33 and 6.19 -> 1.23; hidden4 10.32 -> 6.41 and 9.55 ->
6.83). With ReLU (`INFORMATION_PRESETS["relu"]`) hidden4 and hidden5 do not
compress: their I(X;T) grows up to the last step (5.65 and 5.33 bits; with
seeds 1 and 2 hidden5 also peaks at the end and hidden4 loses at most 0.11
bits), as Saxe et al. report; with seed 0 hidden1-3 lose 0.2-0.4 bits after their peak. (ReLU
layers are unbounded, so their bins widen as the activations grow; Saxe et
al. also used fixed-width bins for them.)

Shipping a run compactly
------------------------
A full run (30 checkpoints x 4,096 inputs x 29 units) is ~7 MB even in
float16, while the network has only 294 parameters. So
`train_information_lab_with_weights` also returns every checkpoint's weights,
`save_information_weights` / `load_information_weights` store them (with the
config and the curves) in one small deterministic ``.safetensors`` file, and
`replay_information_run` recomputes the activations in numpy and rebuilds
the same `Run`.

Where things live
-----------------
``task`` (the 4,096 inputs, the label rule, the split), ``config``
(`InformationLabConfig`, `INFORMATION_PRESETS`), ``run_layout`` (the rows,
metadata and task text that training and replay share), ``train``,
``replay`` and ``weights_file`` (the weights file's format; the atomic write
is `analysis.data.atomic.write_bytes_atomically`). Every public name is
re-exported here.

References
----------
.. [1] R. Shwartz-Ziv and N. Tishby, "Opening the black box of deep neural
   networks via information", arXiv:1703.00810, 2017.
.. [2] A. M. Saxe, Y. Bansal, J. Dapello, M. Advani, A. Kolchinsky, B. D.
   Tracey and D. D. Cox, "On the information bottleneck theory of deep
   learning", ICLR 2018.
.. [3] N. Tishby and N. Zaslavsky, "Deep learning and the information
   bottleneck principle", IEEE ITW 2015.
"""

from analysis.models.information_lab.config import (
    INFORMATION_ACTIVATIONS,
    INFORMATION_PRESETS,
    InformationLabConfig,
)
from analysis.models.information_lab.replay import replay_information_run
from analysis.models.information_lab.run_layout import CheckpointWeights
from analysis.models.information_lab.task import (
    LABEL_COLUMN,
    LABEL_NAMES,
    LABEL_THRESHOLD,
    N_BITS,
    N_INPUTS,
    POSITIVE_SHARE,
    icosahedron_vertices,
    twelve_bit_inputs,
    twelve_bit_labels,
    twelve_bit_score,
    twelve_bit_split,
)
from analysis.models.information_lab.train import (
    train_information_lab,
    train_information_lab_with_weights,
)
from analysis.models.information_lab.weights_file import (
    load_information_weights,
    save_information_weights,
)

__all__ = [
    "INFORMATION_ACTIVATIONS",
    "INFORMATION_PRESETS",
    "LABEL_COLUMN",
    "LABEL_NAMES",
    "LABEL_THRESHOLD",
    "N_BITS",
    "N_INPUTS",
    "POSITIVE_SHARE",
    "CheckpointWeights",
    "InformationLabConfig",
    "icosahedron_vertices",
    "load_information_weights",
    "replay_information_run",
    "save_information_weights",
    "train_information_lab",
    "train_information_lab_with_weights",
    "twelve_bit_inputs",
    "twelve_bit_labels",
    "twelve_bit_score",
    "twelve_bit_split",
]
