"""The paper's numbers and names, in one place (Ledig et al., CVPR 2017).

Every module that uses one of these reads it from here, so the course says 1e-3 or
"SRGAN-VGG54" the same way everywhere, and a reader can check them against the paper on
one page. Where the course chooses something the paper does not state, the module that
chooses it says so beside its own setting.
"""

from __future__ import annotations

import math

# --- the objective (sec. 2.2) --------------------------------------------------------------

ADVERSARIAL_WEIGHT = 1e-3  # eq. 3: l_SR = l_X + 1e-3 * l_Gen
VGG_RESCALE = 1 / 12.75  # sec. 3.2: VGG feature maps multiplied by 1/12.75 before eq. 5

# The content losses l_X of table 1, by the course's short names -> the VGG19 layer
# phi_i,j of eq. 5 (``relu{i}_{j}`` in :mod:`srgan_edu.vgg`), or None for the pixel MSE (eq. 4).
CONTENT_LOSSES: dict[str, str | None] = {"mse": None, "vgg22": "relu2_2", "vgg54": "relu5_4"}
CONTENT_LOSS_NAMES = {"mse": "MSE", "vgg22": "VGG22", "vgg54": "VGG54"}  # as in the models' names: SRGAN-VGG54
LAYER_SYMBOLS = {"relu2_2": "\u03c62,2", "relu5_4": "\u03c65,4"}  # phi_2,2 and phi_5,4, for labels
SRGAN_CONTENT_LOSS = "vgg54"  # the SRGAN of the paper's tables is SRGAN-VGG54


def model_name(content_loss: str, adversarial_weight: float) -> str:
    """The paper's name of a model: ``SRResNet-MSE`` (no adversarial term), ``SRGAN-VGG54`` (1e-3).

    Another adversarial weight is named in brackets: ``SRGAN-MSE (1e-2)``.
    """
    loss = CONTENT_LOSS_NAMES.get(content_loss, content_loss)
    if adversarial_weight == 0:
        return f"SRResNet-{loss}"
    if math.isclose(adversarial_weight, ADVERSARIAL_WEIGHT):
        return f"SRGAN-{loss}"
    return f"SRGAN-{loss} ({weight_label(adversarial_weight)})"


def weight_label(weight: float) -> str:
    """``1e-3 (paper)``, ``1e-2``, ``0``: an adversarial weight as a label."""
    if weight == 0:
        return "0"
    exponent = math.log10(weight)
    text = f"1e{int(round(exponent))}" if abs(exponent - round(exponent)) < 1e-9 else f"{weight:.0e}"
    return text + (" (paper)" if math.isclose(weight, ADVERSARIAL_WEIGHT) else "")


# --- training (sec. 3.2) -------------------------------------------------------------------

SCALE = 4  # every result of the paper is at 4x
HR_CROP = 96  # 96x96 HR sub-images, so 24x24 LR inputs
BATCH_SIZE = 16
ADAM_BETA1 = 0.9
LEARNING_RATE = 1e-4  # SRResNet throughout, SRGAN for its first 10^5 updates
LEARNING_RATE_DROP = 0.1  # SRGAN's second 10^5 updates at 1e-5
SRRESNET_STEPS = 1_000_000  # SRResNet: 10^6 updates
SRGAN_STEPS = 200_000  # SRGAN: 10^5 updates at 1e-4, then 10^5 at 1e-5
SRGAN_DROP_STEP = 100_000

# --- evaluation (sec. 3.1, 3.3) ------------------------------------------------------------

BENCHMARK_SETS = ("Set5", "Set14", "BSD100")
SHAVE = 4  # pixels removed from each border before PSNR/SSIM, on the Y channel (ITU-R BT.601)

# Ledig et al. (2017), table 2: the comparison with other methods on Set5/Set14/BSD100 at
# scale 4 (table 1 is the comparison of content losses). "ssim_wang": Wang's SSIM on Y, as
# reproduced here and reported by later papers (only known for bicubic); "mos": mean opinion score.
PAPER_TABLE: dict[str, dict[str, dict[str, float]]] = {
    "bicubic": {
        "Set5": {"psnr": 28.43, "ssim": 0.8211, "ssim_wang": 0.8104},
        "Set14": {"psnr": 25.99, "ssim": 0.7486, "ssim_wang": 0.7027},
        "BSD100": {"psnr": 25.94, "ssim": 0.6935, "ssim_wang": 0.6675},
    },
    "SRResNet": {
        "Set5": {"psnr": 32.05, "ssim": 0.9019},
        "Set14": {"psnr": 28.49, "ssim": 0.8184},
        "BSD100": {"psnr": 27.58, "ssim": 0.7620},
    },
    "SRGAN": {
        "Set5": {"psnr": 29.40, "ssim": 0.8472},
        "Set14": {"psnr": 26.02, "ssim": 0.7397, "mos": 3.72},
        "BSD100": {"psnr": 25.16, "ssim": 0.6688},
    },
    "HR": {"Set14": {"mos": 4.32}},
}
