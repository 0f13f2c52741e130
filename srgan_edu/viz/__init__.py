"""Every figure the course shows, one module per lesson: each returns a matplotlib Figure.

Notebooks call these functions instead of plotting by hand, so that every picture a learner
sees is tested (``tests/test_viz_*.py``) and looks the same from lesson to lesson. Images
are (C, H, W) float tensors in [0, 1] unless a function says otherwise; the functions never
change their inputs. Figures are returned, not shown: in a notebook the inline backend
shows them; in tests, close them with ``plt.close(fig)``.

A figure lives in the lesson that first shows it (``viz/lesson01.py`` for lesson 01, ...;
lesson 08 shows those of lesson 06), what they share in ``viz/_style.py``; every figure is
re-exported here, so ``viz.spectrum_figure(...)`` works from any lesson. The widgets of
lesson 07 are in :mod:`srgan_edu.widgets`, which draws with these functions.
"""

# The private names are re-exported for the tests that check them (label ids, the spectrum).
from srgan_edu.viz.lesson00 import (
    image_gallery,
)
from srgan_edu.viz.lesson01 import (
    gaussian_kernels_figure,
    patch_pairs_figure,
    _power_spectrum,
    resampling_weights_figure,
    spectrum_figure,
    zoom_figure,
)
from srgan_edu.viz.lesson02 import (
    comparison_figure,
    plausible_solutions_figure,
)
from srgan_edu.viz.lesson03 import (
    checkerboard_figure,
    error_map_figure,
    mse_training_figure,
    receptive_field_figure,
)
from srgan_edu.viz.lesson04 import (
    loss_sensitivity_figure,
    vgg_feature_maps_figure,
)
from srgan_edu.viz.lesson05 import (
    discriminator_scores_figure,
    logit_losses_figure,
)
from srgan_edu.viz.lesson06 import (
    discriminator_balance_figure,
    LiveTrainingCurves,
    sample_grid_figure,
    TRAINING_COLOURS,
    training_curves_figure,
    TRAINING_LABELS,
)
from srgan_edu.viz.lesson07 import (
    CONTENT_LOSS_COLOURS,
    mos_figure,
    perception_distortion_figure,
    perception_distortion_plot,
    _POINT_LABEL,
    rating_sheet_figure,
    separate_labels,
    tradeoff_figure,
)
