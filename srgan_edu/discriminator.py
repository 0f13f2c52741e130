"""The SRGAN discriminator D (Ledig et al., CVPR 2017, sec. 2.1 and fig. 4), lesson 05.

Read top to bottom as in figure 4 (k = kernel size, n = feature maps, s = stride)::

    img (B, 3, 96, 96) in [-1, 1]  (an HR crop, or a generator output of the same size)
      -> k3 n64 s1, LeakyReLU(0.2)                        no BN on the first layer   (B, 64, 96, 96)
      -> k3 n64 s2, BN, LeakyReLU                                                   (B, 64, 48, 48)
      -> k3 n128 s1 / k3 n128 s2, BN, LeakyReLU each                                (B, 128, 24, 24)
      -> k3 n256 s1 / k3 n256 s2, BN, LeakyReLU each                                (B, 256, 12, 12)
      -> k3 n512 s1 / k3 n512 s2, BN, LeakyReLU each                                (B, 512, 6, 6)
      -> flatten, dense 1024, LeakyReLU(0.2), dense 1                               (B,)
    logits; D(img) = sigmoid(logit) is the probability that img is a real HR image.

Eight 3x3 convolutions, 64 to 512 maps doubling every two layers, the resolution halved by
a stride-2 convolution each time the maps double (no max pooling). The paper's last layer is
a sigmoid; here the network returns the **logit** and the sigmoid lives inside the loss
(:func:`srgan_edu.losses.discriminator_loss`), where log(sigmoid(.)) can be computed without
overflow. The dense layer fixes the input size: a network built for 96x96 crops cannot
score 128x128 ones, and says so.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_block(in_channels: int, out_channels: int, stride: int, batch_norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.LeakyReLU(0.2))
    return layers


class Discriminator(nn.Module):
    """The SRGAN discriminator: 8 conv layers, dense 1024, dense 1; returns logits.

    Lesson 05 (``notebooks/05_discriminator.ipynb``).

    Args:
        in_size: the side of the square input crops (96, the paper's HR patch size).
        in_channels: 3 for RGB.
        num_features: maps of the first layers (64); they double to 8 * num_features (512).

    Shape:
        img (B, in_channels, in_size, in_size) in [-1, 1] -> logits (B,), any real number
        (sigmoid(logit) = D(img), the probability of "real HR").
    """

    def __init__(self, *, in_size: int = 96, in_channels: int = 3, num_features: int = 64) -> None:
        super().__init__()
        if in_size < 1 or in_channels < 1 or num_features < 1:
            raise ValueError(f"in_size, in_channels and num_features must be positive, got {in_size}, "
                             f"{in_channels}, {num_features}")
        self.in_size = in_size
        self.in_channels = in_channels
        self.num_features = num_features

        widths = [num_features, num_features * 2, num_features * 4, num_features * 8]
        layers: list[nn.Module] = []
        channels = in_channels
        for index, width in enumerate(widths):
            layers += _conv_block(channels, width, stride=1, batch_norm=index > 0)  # no BN on the very first
            layers += _conv_block(width, width, stride=2, batch_norm=True)
            channels = width
        self.features = nn.Sequential(*layers)

        side = in_size
        for _ in widths:  # a 3x3 conv with stride 2 and padding 1 maps n to ceil(n / 2)
            side = (side + 1) // 2
        self.feature_shape = (channels, side, side)  # (512, 6, 6) for 96x96 inputs
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (B, 512, 6, 6) -> (B, 18432)
            nn.Linear(channels * side * side, 1024),
            nn.LeakyReLU(0.2),
            nn.Linear(1024, 1),
        )

    @property
    def config(self) -> dict:
        """The constructor's keyword arguments, so that a checkpoint can rebuild the network."""
        return {"in_size": self.in_size, "in_channels": self.in_channels, "num_features": self.num_features}

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        expected = (self.in_channels, self.in_size, self.in_size)
        if img.dim() != 4 or tuple(img.shape[1:]) != expected:
            got = tuple(img.shape)
            if img.dim() == 4 and img.shape[1] == self.in_channels:
                height, width = img.shape[-2:]
                raise ValueError(
                    f"This Discriminator was built for {self.in_size}x{self.in_size} crops (in_size={self.in_size}) "
                    f"but got {height}x{width} images (shape {got}). Its dense layer fixes the input size: crop "
                    f"HR images and generator outputs to {self.in_size}x{self.in_size} (the paper uses 96x96 HR "
                    f"crops, i.e. 24x24 LR inputs at scale 4), or "
                    + (f"build Discriminator(in_size={height}) for {height}x{height} crops." if height == width else
                       "crop them square: the discriminator takes square crops of one size (in_size x in_size).")
                )
            raise ValueError(
                f"Discriminator expects a batch (B, {self.in_channels}, {self.in_size}, {self.in_size}) in [-1, 1], "
                f"got shape {got}; add a batch dimension with img[None] if it is a single image"
            )
        features = self.features(img)  # (B, 3, S, S) -> (B, 512, S/16, S/16)
        return self.classifier(features).squeeze(1)  # (B, 1) -> (B,)
