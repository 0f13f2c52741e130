"""Training SRResNet and SRGAN (Ledig et al., CVPR 2017, sec. 2 and 3.2), lessons 06 and 08.

Read in this order (one module each, in ``srgan_edu/training/``):

1. ``config``: :class:`TrainConfig`: the paper's schedule as the defaults (batch 16 of 96x96 HR crops,
   Adam with beta1 = 0.9; SRResNet 10^6 updates at 1e-4; SRGAN 10^5 updates at 1e-4
   then 10^5 at 1e-5, starting from a trained SRResNet).
   :class:`History`: one row per logged step (loss parts, D(x), D(G(z)), learning rate,
   images per second), saved as CSV and JSON beside the checkpoints.
2. ``steps``: the step functions, small enough to read in lesson 06 and re-implement in its exercise:
   :func:`srresnet_step` (eq. 4 or 5), :func:`discriminator_step` (eq. 2),
   :func:`generator_step` (eq. 3 and 6) and :func:`srgan_step` (one of each, alternating).
   :func:`validate`: PSNR and SSIM on held-out images, plus a fixed grid of samples.
3. ``stream``: an endless seeded stream of batches that a resumed run continues exactly.
4. ``loop``: :func:`train_srresnet` and :func:`train_srgan`: the loop around the steps with mixed
   precision on CUDA, checkpoints (:mod:`srgan_edu.checkpoints`) that resume exactly,
   a stop with a clear message on a NaN loss, and several processes under ``torchrun``
   (:mod:`srgan_edu.distributed`). Each network is a :class:`Trainee` (the network, its
   Adam, its learning-rate schedule, its gradient scaler) that saves and loads itself, so
   G and D are handled alike; ``_train`` reads as the paper's loop in one screen.
5. ``cli``: the ``train`` subcommand of ``python -m srgan_edu``. (``load_generator`` is in
   :mod:`srgan_edu.checkpoints`, and named here too.)

Ranges, as everywhere in the course: LR inputs (B, 3, h, w) in [0, 1]; HR targets and
generator outputs (B, 3, 4h, 4w) in [-1, 1]; the discriminator returns logits (B,).

Everything is named here too, so ``training.train_srresnet(...)`` and ``from srgan_edu.training
import TrainConfig`` work as the lessons wrote them.
"""

from srgan_edu.checkpoints import KINDS, TrainedGenerator, load_generator, load_trained_generator  # noqa: F401
from srgan_edu.paper import CONTENT_LOSSES  # noqa: F401
from srgan_edu.runtime import Precision, autocast, cpu_has_native_bf16  # noqa: F401
from srgan_edu.training.config import (  # noqa: F401
    History,
    LR_SCHEDULES,
    make_content_loss,
    TrainConfig,
)
from srgan_edu.training.steps import (  # noqa: F401
    check_finite,
    discriminator_step,
    generator_step,
    NonFiniteLossError,
    sample_grid,
    srgan_step,
    srresnet_step,
    validate,
    ValidationSet,
)
from srgan_edu.training.stream import (  # noqa: F401
    EpochIndexed,
    training_loader,
    TrainingStream,
)
from srgan_edu.training.loop import (  # noqa: F401
    run_paths,
    train_srgan,
    train_srresnet,
    Trainee,
    TrainResult,
)
from srgan_edu.training.cli import (  # noqa: F401
    _cli_config,
    add_cli_arguments,
    cli_main,
    default_num_workers,
)
