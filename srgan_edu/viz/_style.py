"""What every figure shares: tensors to arrays for ``imshow``.

Images are (C, H, W) float tensors in [0, 1] unless a function says otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from srgan_edu.images import rgb_to_y

if TYPE_CHECKING:
    import numpy as np
    import torch


def image_array(img) -> np.ndarray:
    """(C, H, W) tensor in [0, 1] (C = 1 or 3) -> (H, W, 3) float array for ``imshow``."""
    import numpy as np

    array = img.detach().to("cpu").float().clamp(0, 1)
    if array.dim() == 4:
        array = array[0]
    array = array.permute(1, 2, 0).numpy()
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return array


def luma_array(img) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) float64: Y (BT.601) of an RGB image, the channel itself for C = 1."""
    grey = img.detach().to("cpu").double()
    if grey.dim() == 4:
        grey = grey[0]
    if grey.shape[0] == 3:
        grey = rgb_to_y(grey)
    return grey[0].numpy()


def stretch(img: torch.Tensor) -> torch.Tensor:
    """Any range -> [0, 1] by the image's own min and max (untrained outputs, feature maps)."""
    img = img.detach().to("cpu").float()
    low, high = img.min(), img.max()
    return (img - low) / (high - low) if high > low else img.clamp(0, 1) * 0
