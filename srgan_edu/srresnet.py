"""The SRResNet generator of SRGAN (Ledig et al., CVPR 2017, sec. 2.1 and fig. 4), lesson 03.

The network, read top to bottom as in the paper's figure 4::

    lr_img (B, 3, h, w) in [0, 1]
      -> 9x9 conv, 64 maps, PReLU                     "head"            (B, 64, h, w)
      -> 16 residual blocks:                           "body"            (B, 64, h, w)
           3x3 conv 64, BN, PReLU, 3x3 conv 64, BN, + block input
      -> 3x3 conv 64, BN, + head output                (global skip)     (B, 64, h, w)
      -> 2 upsampling blocks:                          "upsample"        (B, 64, 4h, 4w)
           3x3 conv 256, PixelShuffle x2, PReLU
      -> 9x9 conv to 3 channels                        "tail"            (B, 3, 4h, 4w)
    sr_img in [-1, 1] (not clamped)

With the defaults (``scale=4, num_features=64, num_blocks=16``) it has 1,550,659
parameters, the "about 1.55 M" usually quoted.

Choices the paper leaves open, and what we chose:

- **Output range.** The paper's HR targets are in [-1, 1] and its figure 4 ends with a
  plain convolution, so the output is linear ("tanh-free"): no tanh squashes it and no
  clamp cuts its gradient. A tanh would saturate exactly where bright and dark pixels are,
  slowing their training. Values slightly outside [-1, 1] are possible; clamp when
  displaying or measuring (``images.to_unit(sr_img).clamp(0, 1)``).
- **PReLU** is channel-wise (one learned slope per feature map), the main variant of
  He et al. (2015) that the paper cites.
- **Scale** 2, 4 or 8: one x2 upsampling block per factor of two. The paper uses 4.
- **ICNR** (Aitken et al., 2017, "Checkerboard artifact free sub-pixel convolution") is the
  course's addition, not the paper's: SRGAN does not say how it initialised its sub-pixel
  convolutions, and ICNR appeared after it. Off by default; with ``icnr=True`` the sub-pixel
  convolution starts out as nearest-neighbour upsampling, so it cannot begin with a
  checkerboard pattern.
- **Transposed convolution** (``upsampler="transposed"``) is not the paper's choice; it is
  here so that lesson 03 can show the checkerboard artefacts it produces (Odena et al., 2016,
  "Deconvolution and checkerboard artifacts").
"""

from __future__ import annotations

import math

import torch
from torch import nn

SCALES = (2, 4, 8)
UPSAMPLERS = ("pixel_shuffle", "transposed")


class ResidualBlock(nn.Module):
    """One residual block: conv-BN-PReLU-conv-BN plus the block's input (fig. 4).

    Lesson 03 (``notebooks/03_srresnet.ipynb``).

    Args:
        num_features: feature maps in and out (64 in the paper).

    Shape:
        (B, num_features, H, W) -> (B, num_features, H, W).
    """

    def __init__(self, num_features: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_features, num_features, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(num_features)
        self.prelu = nn.PReLU(num_features)
        self.conv2 = nn.Conv2d(num_features, num_features, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(num_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        residual = self.prelu(self.bn1(self.conv1(features)))
        residual = self.bn2(self.conv2(residual))
        # The block only learns a correction to its input: the identity is free.
        return features + residual


def icnr_(weight: torch.Tensor, factor: int, initializer=nn.init.kaiming_normal_) -> torch.Tensor:
    """ICNR initialisation of a sub-pixel convolution's weight, in place (Aitken et al., 2017).

    PixelShuffle takes output channel ``c * factor**2 + k`` to sub-pixel position ``k`` of
    channel ``c``. Giving the ``factor**2`` convolution kernels of each group the *same*
    values makes every sub-pixel of a ``factor x factor`` block equal, so at initialisation
    conv + PixelShuffle is a convolution followed by nearest-neighbour upsampling: no
    checkerboard pattern to unlearn. Training then lets the kernels drift apart.

    Args:
        weight: the convolution weight, (C * factor**2, C_in, k, k).
        factor: the PixelShuffle factor.
        initializer: how the shared kernels are drawn (PyTorch's Kaiming normal by default).

    Returns:
        ``weight``, modified in place.
    """
    out_channels = weight.shape[0]
    group = factor**2
    if out_channels % group:
        raise ValueError(f"{out_channels} output channels do not split into groups of factor**2 = {group}")
    sub_kernel = torch.empty(out_channels // group, *weight.shape[1:], device=weight.device, dtype=weight.dtype)
    initializer(sub_kernel)
    with torch.no_grad():
        # (C, C_in, k, k) -> (C * factor**2, C_in, k, k), each kernel repeated factor**2 times in a row
        weight.copy_(sub_kernel.repeat_interleave(group, dim=0))
    return weight


class UpsampleBlock(nn.Module):
    """Sub-pixel upsampling (Shi et al., 2016): conv to ``factor**2`` times the maps, PixelShuffle, PReLU.

    Lesson 03 (``notebooks/03_srresnet.ipynb``).

    Args:
        num_features: feature maps in and out (64 in the paper).
        factor: the upsampling factor of this block (2 in the paper).
        icnr: initialise the convolution with ICNR (see :func:`icnr_`) so that the block
            starts without checkerboard artefacts.

    Shape:
        (B, num_features, H, W) -> (B, num_features, factor*H, factor*W).
    """

    def __init__(self, num_features: int = 64, factor: int = 2, icnr: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(num_features, num_features * factor**2, kernel_size=3, padding=1)
        self.shuffle = nn.PixelShuffle(factor)
        self.prelu = nn.PReLU(num_features)
        if icnr:
            icnr_(self.conv.weight, factor)
            with torch.no_grad():  # equal biases within a group, or they would re-create the pattern
                bias = self.conv.bias.view(num_features, factor**2)
                bias.copy_(bias[:, :1].expand_as(bias))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = self.conv(features)  # (B, C, H, W) -> (B, C*factor^2, H, W)
        features = self.shuffle(features)  # (B, C*factor^2, H, W) -> (B, C, factor*H, factor*W)
        return self.prelu(features)


class TransposedConvUpsample(nn.Module):
    """The alternative the paper did not use: a strided transposed convolution, then PReLU.

    A 3x3 kernel with stride 2 covers some output pixels with two kernel taps and others
    with one or four (the kernel size is not a multiple of the stride), which prints a
    checkerboard pattern on the output until training evens it out, and often after.

    Args:
        num_features: feature maps in and out.
        factor: the upsampling factor of this block (the stride).

    Shape:
        (B, num_features, H, W) -> (B, num_features, factor*H, factor*W).
    """

    def __init__(self, num_features: int = 64, factor: int = 2) -> None:
        super().__init__()
        # out = (H - 1) * factor - 2 * 1 + 3 + output_padding = factor * H
        self.conv = nn.ConvTranspose2d(
            num_features, num_features, kernel_size=3, stride=factor, padding=1, output_padding=factor - 1
        )
        self.prelu = nn.PReLU(num_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.prelu(self.conv(features))  # (B, C, H, W) -> (B, C, factor*H, factor*W)


class SRResNet(nn.Module):
    """The SRResNet generator (sec. 2.1, fig. 4), also the generator G of SRGAN.

    Lesson 03 (``notebooks/03_srresnet.ipynb``).

    Args:
        scale: the upscaling factor, 2, 4 (the paper) or 8.
        num_features: feature maps in the body (64 in the paper).
        num_blocks: residual blocks (16 in the paper).
        upsampler: ``"pixel_shuffle"`` (sub-pixel convolution, the paper) or
            ``"transposed"`` (strided transposed convolution, to show its artefacts).
        icnr: ICNR initialisation of the sub-pixel convolutions (only with
            ``"pixel_shuffle"``).

    Shape:
        lr_img (B, 3, h, w) in [0, 1] -> sr_img (B, 3, scale*h, scale*w) in [-1, 1]
        (linear output, not clamped; see the module docstring). Any h, w >= 1 work.
    """

    def __init__(
        self,
        *,
        scale: int = 4,
        num_features: int = 64,
        num_blocks: int = 16,
        upsampler: str = "pixel_shuffle",
        icnr: bool = False,
    ) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES} (one x2 sub-pixel block per factor of two), got {scale}")
        if upsampler not in UPSAMPLERS:
            raise ValueError(f"upsampler must be one of {UPSAMPLERS}, got {upsampler!r}")
        if icnr and upsampler != "pixel_shuffle":
            raise ValueError("icnr=True initialises sub-pixel convolutions; it needs upsampler='pixel_shuffle'")
        if num_features < 1 or num_blocks < 0:
            raise ValueError(f"need num_features >= 1 and num_blocks >= 0, got {num_features} and {num_blocks}")
        self.scale = scale
        self.num_features = num_features
        self.num_blocks = num_blocks
        self.upsampler = upsampler
        self.icnr = icnr

        self.head = nn.Sequential(nn.Conv2d(3, num_features, kernel_size=9, padding=4), nn.PReLU(num_features))
        self.body = nn.Sequential(*(ResidualBlock(num_features) for _ in range(num_blocks)))
        self.body_end = nn.Sequential(
            nn.Conv2d(num_features, num_features, kernel_size=3, padding=1), nn.BatchNorm2d(num_features)
        )
        num_upsample = int(math.log2(scale))
        if upsampler == "pixel_shuffle":
            blocks = [UpsampleBlock(num_features, 2, icnr=icnr) for _ in range(num_upsample)]
        else:
            blocks = [TransposedConvUpsample(num_features, 2) for _ in range(num_upsample)]
        self.upsample = nn.Sequential(*blocks)
        self.tail = nn.Conv2d(num_features, 3, kernel_size=9, padding=4)

    @property
    def config(self) -> dict:
        """The constructor's keyword arguments, so that a checkpoint can rebuild the network."""
        return {
            "scale": self.scale,
            "num_features": self.num_features,
            "num_blocks": self.num_blocks,
            "upsampler": self.upsampler,
            "icnr": self.icnr,
        }

    def forward(self, lr_img: torch.Tensor) -> torch.Tensor:
        if lr_img.dim() != 4 or lr_img.shape[1] != 3:
            raise ValueError(
                f"SRResNet expects a batch of RGB images (B, 3, h, w) in [0, 1], got shape {tuple(lr_img.shape)}; "
                "add a batch dimension with img[None]"
            )
        head = self.head(lr_img)  # (B, 3, h, w) -> (B, F, h, w)
        features = self.body_end(self.body(head)) + head  # global skip: (B, F, h, w)
        features = self.upsample(features)  # (B, F, h, w) -> (B, F, scale*h, scale*w)
        return self.tail(features)  # (B, F, scale*h, scale*w) -> (B, 3, scale*h, scale*w), [-1, 1]


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """The number of parameters (learned numbers) of ``model``; BN running statistics are not counted.

    Lesson 03 (``notebooks/03_srresnet.ipynb``).

    Args:
        model: any module.
        trainable_only: count only parameters with ``requires_grad``.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def checkerboard_pattern(img: torch.Tensor, period: int) -> torch.Tensor:
    """The average ``period x period`` tile of an image, minus its mean: its periodic component.

    Natural image content averages out over many tiles; a pattern that repeats with the
    upsampling period (a checkerboard) does not. Averaged over the batch and the channels.

    Args:
        img: (C, H, W) or (B, C, H, W), any range; cropped to a multiple of ``period``.
        period: the tile size, the upsampling factor of the block that prints the pattern.

    Returns:
        A (period, period) tensor with mean 0.
    """
    if img.dim() == 3:
        img = img[None]
    height, width = img.shape[-2] // period * period, img.shape[-1] // period * period
    if height == 0 or width == 0:
        raise ValueError(f"image of size {tuple(img.shape[-2:])} is smaller than one {period}x{period} tile")
    img = img[..., :height, :width].detach().double()
    # (B, C, H, W) -> (B, C, H/p, p, W/p, p): average over everything but the two positions in the tile
    tiles = img.reshape(*img.shape[:2], height // period, period, width // period, period)
    tile = tiles.mean(dim=(0, 1, 2, 4))
    return (tile - tile.mean()).float()


def checkerboard_strength(img: torch.Tensor, period: int) -> float:
    """How strong the periodic pattern is: std of :func:`checkerboard_pattern` / std of the image.

    Lesson 03 (``notebooks/03_srresnet.ipynb``).

    About 0 for a natural image or a clean upsampling; 0.1 means a tenth of the image's
    variation is the repeating pattern.

    Args:
        img: (C, H, W) or (B, C, H, W), any range.
        period: the tile size (the upsampling factor).
    """
    spread = img.detach().double().std().item()
    if spread == 0:
        return 0.0
    return float(checkerboard_pattern(img, period).double().std(correction=0).item() / spread)


def receptive_field(model: SRResNet) -> int:
    """The side, in LR pixels, of the square of input pixels that one output pixel can see.

    Lesson 03 (``notebooks/03_srresnet.ipynb``).

    Measured rather than derived: a narrow copy of the architecture (same scale, blocks and
    upsampler; 2 feature maps, since the width does not change the receptive field) gets
    positive weights, so that no contribution can cancel, and the gradient of one central
    output pixel with respect to the input shows which input pixels reach it. The
    arithmetic gives the same answer: each 3x3 conv at LR adds 2 pixels, so for the paper's
    network 9 (head) + 16 * 4 (blocks) + 2 (body end) + 2 + 1 (the two upsampling convs, the
    second at twice the resolution) + 2 (9x9 tail at 4x) = 80 LR pixels, 320 HR pixels.

    Args:
        model: an :class:`SRResNet` (only its architecture is used).

    Returns:
        The receptive field's side in LR pixels.
    """
    config = dict(model.config, num_features=2, icnr=False)
    probe = SRResNet(**config).eval()
    with torch.no_grad():
        for param in probe.parameters():
            param.abs_().add_(0.01)
    bound = 9 + 4 * probe.num_blocks + 8  # 9x9 head, two 3x3 convs per block, a margin for the rest
    size = 2 * bound + 1
    lr_img = torch.full((1, 3, size, size), 0.5, requires_grad=True)
    sr_img = probe(lr_img)
    centre = (size // 2) * probe.scale
    sr_img[0, :, centre, centre].sum().backward()
    reached = lr_img.grad[0].abs().sum(0) > 0  # (size, size)
    rows = reached.any(1).nonzero()
    cols = reached.any(0).nonzero()
    return int(max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1))
