"""Checks for the exercises: run the learner's code, compare it with the library, say what is wrong.

Every exercise notebook (``exercises/NN_*.ipynb``) asks the learner to build one concept of
SRGAN (Ledig et al., CVPR 2017) in the open: the Gaussian kernel, PSNR on Y, the residual
block, pixel shuffle, the VGG content loss, the adversarial losses, one training step, the
MOS with its confidence interval. The check of each exercise (one ``check_...`` function
here) runs the learner's function on small cases it builds, compares the answers with the
library's reference implementation, and then either prints a short pass message or raises
:class:`ExerciseError` with a sentence that names the likely mistake: "forgot the shave",
"RGB instead of Y", "sigmoid applied twice", "detached the wrong tensor", ...

How a mistake is named: besides the reference answer, a check computes the answers that the
usual wrong versions give (the same computation with the mistake made on purpose). When the
learner's answer matches one of them, the message describes that mistake; otherwise it says
what was expected and what came back.

Conventions:

- A learner's function that raises ``NotImplementedError`` (the exercise stub) propagates
  unchanged, so an exercise notebook stops at the first exercise not yet done.
- Any other error inside the learner's code becomes an :class:`ExerciseError` that names the
  function and the inputs, chained to the original error (its traceback stays visible).
- Checks run on the CPU with tiny tensors (well under a second each) and do not disturb the
  notebook's random state: they draw from their own seeded generator.

The package has one module per lesson (``lesson01`` ... ``lesson07``), the shared machinery in
``_common`` and the hint ladder in ``hints``; everything is re-exported here, so that
``from srgan_edu import checks; checks.check_psnr_y(...)`` and ``checks.hint("2.3")`` work.
Checks import concept modules (``degradation``, ``metrics``, ``srresnet``, ``losses``, ...),
never a presentation module (``viz``, ``widgets``).

This package is the one deliberate exception to "no private copies of library functions":
the wrong versions above exist only to recognise mistakes.
"""

from __future__ import annotations

from srgan_edu.checks._common import ExerciseError
from srgan_edu.checks.hints import HINTS, hint
from srgan_edu.checks.lesson01 import (check_gaussian_kernel, check_blur_then_decimate, check_nyquist_sigma, GAUSSIAN_KERNEL, BLUR_THEN_DECIMATE, NYQUIST_SIGMA)
from srgan_edu.checks.lesson02 import (check_rgb_to_y, check_psnr_y, check_mse_best_guess, RGB_TO_Y, PSNR_Y, MSE_BEST_GUESS)
from srgan_edu.checks.lesson03 import (check_residual_block, check_pixel_unshuffle, check_parameter_count, RESIDUAL_BLOCK, PIXEL_UNSHUFFLE, PARAMETER_COUNT)
from srgan_edu.checks.lesson04 import (check_vgg_layer_index, check_vgg_content_loss, VGG_LAYER_INDEX, VGG_CONTENT_LOSS, CONVS_PER_BLOCK)
from srgan_edu.checks.lesson05 import (check_discriminator_loss, check_generator_adversarial_loss, check_relativistic_discriminator_loss, DISCRIMINATOR_LOSS, GENERATOR_LOSS, RELATIVISTIC_LOSS)
from srgan_edu.checks.lesson06 import (check_discriminator_step, check_generator_step, DISCRIMINATOR_STEP, GENERATOR_STEP)
from srgan_edu.checks.lesson07 import (check_mos_interval, check_probability_of_superiority, check_ratings_needed, MOS_INTERVAL, SUPERIORITY, RATINGS_NEEDED)

__all__ = ["ExerciseError", "HINTS", "hint", "check_gaussian_kernel", "check_blur_then_decimate", "GAUSSIAN_KERNEL", "BLUR_THEN_DECIMATE", "check_nyquist_sigma", "NYQUIST_SIGMA", "check_rgb_to_y", "check_psnr_y", "check_mse_best_guess", "RGB_TO_Y", "PSNR_Y", "MSE_BEST_GUESS", "check_residual_block", "check_pixel_unshuffle", "check_parameter_count", "RESIDUAL_BLOCK", "PIXEL_UNSHUFFLE", "PARAMETER_COUNT", "check_vgg_layer_index", "check_vgg_content_loss", "VGG_LAYER_INDEX", "VGG_CONTENT_LOSS", "CONVS_PER_BLOCK", "check_discriminator_loss", "check_generator_adversarial_loss", "DISCRIMINATOR_LOSS", "GENERATOR_LOSS", "check_relativistic_discriminator_loss", "RELATIVISTIC_LOSS", "check_discriminator_step", "check_generator_step", "DISCRIMINATOR_STEP", "GENERATOR_STEP", "check_mos_interval", "check_probability_of_superiority", "MOS_INTERVAL", "SUPERIORITY", "check_ratings_needed", "RATINGS_NEEDED"]
