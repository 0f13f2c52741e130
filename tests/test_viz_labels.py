"""The PSNR-perception plots keep their point labels apart (lesson 07): models that score alike stay readable."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import torch

from srgan_edu import viz
from srgan_edu.widgets import QualityPoint


def _label_boxes(fig):
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for ax in fig.axes for t in ax.texts if t.get_gid() == viz._POINT_LABEL]


def _points():
    same = dict(psnr=28.0, ssim=0.8, perceptual=0.10)
    points = [QualityPoint("SRResNet-MSE", content_loss="mse", adversarial_weight=0.0, **same),
              QualityPoint("SRGAN-VGG54", content_loss="vgg54", adversarial_weight=1e-3, psnr=28.01, ssim=0.8,
                           perceptual=0.1001),
              QualityPoint("bicubic", psnr=27.99, ssim=0.7, perceptual=0.0999)]
    path = [QualityPoint(f"alpha={a:.2f}", alpha=a, **same) for a in (0.0, 0.5, 1.0)]
    return points, path


def test_perception_distortion_labels_do_not_overlap():
    points, path = _points()
    for fig in (viz.perception_distortion_figure(points, path=path),
                viz.tradeoff_figure(torch.rand(3, 16, 16), torch.rand(3, 16, 16), points, path=path,
                                    current="SRGAN-VGG54")):
        boxes = _label_boxes(fig)
        assert len(boxes) == 5  # three points, two path ends
        assert not [pair for pair in itertools.combinations(boxes, 2) if pair[0].overlaps(pair[1])]
        plt.close(fig)
