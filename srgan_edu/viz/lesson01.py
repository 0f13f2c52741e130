"""Figures of lesson 01, the degradation model (sec. 2): blur kernels, zooms, spectra, paired crops, bicubic weights.

Images are (C, H, W) float tensors in [0, 1] unless a function says otherwise; the functions
never change their inputs and return the figure (see :mod:`srgan_edu.viz`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from srgan_edu.viz._style import image_array, luma_array

if TYPE_CHECKING:
    import numpy as np
    import torch
    from matplotlib.figure import Figure


def gaussian_kernels_figure(kernels: Mapping[str, torch.Tensor], *, panel_size: float = 2.4) -> Figure:
    """Gaussian kernels as pictures, and their middle rows as curves on one plot (lesson 01).

    Each kernel is drawn on a grid as large as the largest kernel, on its own colour scale
    (yellow = its largest weight); the last panel overlays the middle row of every kernel.

    Args:
        kernels: name (e.g. "sigma = 1.5") -> (k, k) kernel, e.g. from
            :func:`srgan_edu.degradation.gaussian_kernel`; sizes may differ.
        panel_size: inches per panel.

    Returns:
        A figure with one panel per kernel and one panel of profiles.
    """
    import matplotlib.pyplot as plt

    import numpy as np

    names = list(kernels)
    if not names:
        raise ValueError("gaussian_kernels_figure needs at least one kernel")
    largest = max(kernels[name].shape[-1] for name in names)
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(panel_size * (len(names) + 1.6), panel_size + 0.5),
                             gridspec_kw={"width_ratios": [1] * len(names) + [1.6]})
    profile_ax = axes[-1]
    for ax, name in zip(axes, names):
        kernel = kernels[name].detach().to("cpu").double()
        size = kernel.shape[-1]
        # Drawn on a common grid (zeros around the smaller kernels), so widths compare.
        pad = (largest - size) // 2
        ax.imshow(np.pad(kernel.numpy(), pad), cmap="viridis", vmin=0, interpolation="nearest")
        ax.set_title(f"{name}\n{size}x{size}, weights sum to {float(kernel.sum()):.4f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        offsets = [i - (size - 1) / 2 for i in range(size)]
        profile_ax.plot(offsets, kernel[size // 2].numpy(), marker=".", label=name)
    profile_ax.set_xlabel("offset from the centre (pixels)")
    profile_ax.set_ylabel("weight (middle row)")
    profile_ax.set_title("middle rows", fontsize=9)
    profile_ax.grid(alpha=0.3)
    profile_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def zoom_figure(
    images: Mapping[str, torch.Tensor],
    *,
    box: tuple[int, int, int],
    panel_size: float = 2.8,
    title: str | None = None,
) -> Figure:
    """Versions of one scene at different resolutions, each over a zoom of the same region.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

    An HR image and its LR versions differ in size; the zoom window is given in the pixels
    of the first image and scaled to each of the others by their width ratio, so that every
    zoom shows the same part of the scene. Zooms are drawn with nearest-neighbour
    interpolation: each pixel is a visible square, and the display adds no blur of its own.

    Args:
        images: name -> (C, H, W) in [0, 1], C = 1 or 3, all of the same scene (e.g. HR,
            then LR images 4x smaller), in the order to show them.
        box: the zoom window (top, left, size) in pixels of the first image.
        panel_size: inches per panel.
        title: figure title.

    Returns:
        A figure with a row of whole images (the window outlined) over a row of zooms.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    names = list(images)
    if not names:
        raise ValueError("zoom_figure needs at least one image")
    top, left, size = box
    reference_width = images[names[0]].shape[-1]
    fig, axes = plt.subplots(2, len(names), figsize=(panel_size * len(names), panel_size * 2.15), squeeze=False)
    for column, name in enumerate(names):
        array = image_array(images[name])
        height, width = array.shape[:2]
        ratio = width / reference_width
        y0, x0 = int(round(top * ratio)), int(round(left * ratio))
        side = max(1, int(round(size * ratio)))
        whole, zoom = axes[0, column], axes[1, column]
        # "antialiased" filters when the panel is smaller than the image, so the display
        # itself adds no aliasing to pictures that are about aliasing.
        whole.imshow(array, interpolation="antialiased")
        whole.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), side, side, fill=False, edgecolor="red", linewidth=1.5))
        whole.set_title(f"{name}\n{width}x{height} px", fontsize=9)
        zoom.imshow(array[y0 : y0 + side, x0 : x0 + side], interpolation="nearest")
        zoom.set_xlabel(f"zoom: {side}x{side} px", fontsize=9)
        for ax in (whole, zoom):
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _power_spectrum(img) -> np.ndarray:
    """Hann-windowed power spectrum of an image's luma, centred, per unit of frequency area.

    The mean is removed first (no spike at zero) and the window keeps the image's borders
    from drawing a bright cross. Dividing by the window's energy makes the values a power
    spectral density in the image's own cycles per pixel.
    """
    import numpy as np

    grey = luma_array(img)
    grey = grey - grey.mean()
    window = np.outer(np.hanning(grey.shape[0]), np.hanning(grey.shape[1]))
    spectrum = np.fft.fftshift(np.fft.fft2(grey * window))
    power = np.abs(spectrum) ** 2 / max((window**2).sum(), 1e-12)
    # One image's spectrum is very noisy; a local mean over about 1/64 of the frequency
    # range shows its trend (what averaging the spectra of many images would show).
    width = max(1, min(power.shape) // 64) | 1
    if width > 1:
        import torch
        import torch.nn.functional as F

        smoothed = F.avg_pool2d(torch.from_numpy(power)[None, None], width, stride=1, padding=width // 2,
                                count_include_pad=False)
        power = smoothed[0, 0].numpy()
    return power


def spectrum_figure(
    images: Mapping[str, torch.Tensor],
    *,
    panel_size: float = 2.8,
    decades: float = 6.0,
    title: str | None = None,
) -> Figure:
    """Log power spectra of an HR image and of its LR versions, on one frequency axis (lesson 01).

    Frequencies are in cycles per pixel of the *first* image (the HR one): an LR image r
    times smaller holds only frequencies up to 1/(2r), its Nyquist limit, drawn as a dashed
    square on the HR spectrum. Powers are densities on that same axis, so the LR spectra
    are directly comparable with the HR one: where an LR image shows more power than the HR
    image near its Nyquist limit, finer detail has folded back into it (aliasing); where it
    shows less, a filter removed it. The last panel averages each spectrum over rings of
    equal frequency.

    Args:
        images: name -> (C, H, W) in [0, 1] (C = 1 or 3; RGB is measured on Y), the HR
            image first, then LR versions of it.
        panel_size: inches per panel.
        decades: the colour scale spans this many powers of ten below the HR maximum.
        title: figure title.

    Returns:
        A figure with one spectrum per image and a panel of radial averages.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(images)
    if not names:
        raise ValueError("spectrum_figure needs at least one image")
    reference_width = images[names[0]].shape[-1]
    spectra, pitches = {}, {}
    for name in names:
        pitch = reference_width / images[name].shape[-1]  # this image's pixel, in reference pixels
        # Per cycle per *reference* pixel, the density is pitch^2 times larger (same total power).
        spectra[name] = _power_spectrum(images[name]) * pitch**2
        pitches[name] = pitch
    top = np.log10(np.percentile(spectra[names[0]], 99.99) + 1e-20)
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(panel_size * (len(names) + 2.0), panel_size + 0.8),
                             gridspec_kw={"width_ratios": [1] * len(names) + [1.8]}, layout="constrained")
    largest_pitch = max(pitches.values())
    for ax, name in zip(axes, names):
        height, width = spectra[name].shape
        half = 0.5 / pitches[name]  # this image's Nyquist limit, in cycles per reference pixel
        shown = ax.imshow(np.log10(spectra[name] + 1e-20), cmap="magma", vmin=top - decades, vmax=top,
                          extent=(-half, half, half, -half), interpolation="antialiased")
        if pitches[name] < largest_pitch:
            nyquist = 0.5 / largest_pitch
            ax.add_patch(plt.Rectangle((-nyquist, -nyquist), 2 * nyquist, 2 * nyquist, fill=False,
                                       edgecolor="cyan", linestyle="--", linewidth=1.2))
        ax.set_title(f"{name}\n{width}x{height} px", fontsize=9)
        ax.set_xlabel("cycles / HR pixel", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.colorbar(shown, ax=list(axes[:-1]), shrink=0.8, label="log10 power", pad=0.02)
    profile_ax = axes[-1]
    for name in names:
        power = spectra[name]
        height, width = power.shape
        fy = (np.arange(height) - height // 2) / height / pitches[name]
        fx = (np.arange(width) - width // 2) / width / pitches[name]
        radius = np.hypot(*np.meshgrid(fy, fx, indexing="ij"))
        edges = np.linspace(0, 0.5 / pitches[name], max(8, min(height, width) // 4) + 1)
        which = np.digitize(radius.ravel(), edges) - 1
        inside = (which >= 0) & (which < len(edges) - 1)
        sums = np.bincount(which[inside], weights=power.ravel()[inside], minlength=len(edges) - 1)
        counts = np.bincount(which[inside], minlength=len(edges) - 1)
        centres = (edges[:-1] + edges[1:]) / 2
        keep = counts > 0
        profile_ax.semilogy(centres[keep], sums[keep] / counts[keep], label=name)
    if largest_pitch > 1:
        profile_ax.axvline(0.5 / largest_pitch, color="c", linestyle="--", linewidth=1,
                           label=f"LR Nyquist 1/{2 * largest_pitch:g}")
    profile_ax.set_xlabel("frequency (cycles / HR pixel)")
    profile_ax.set_ylabel("mean power")
    profile_ax.set_title("averaged over rings", fontsize=9)
    profile_ax.grid(alpha=0.3)
    profile_ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def patch_pairs_figure(
    pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
    *,
    hr_range: str = "unit",
    panel_size: float = 2.0,
    title: str | None = None,
) -> Figure:
    """Training pairs: each LR patch above its HR patch, captioned with shape and value range.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

    Both are drawn at the same size with nearest-neighbour interpolation, so the LR patch's
    pixels show as blocks ``scale`` times larger than the HR pixels.

    Args:
        pairs: (name, lr_img (C, h, w) in [0, 1], hr_img (C, H, W)) triples.
        hr_range: ``"unit"`` when the HR patches are in [0, 1], ``"signed"`` for [-1, 1]
            (the paper's targets; mapped to [0, 1] for display only, the caption keeps the
            real range).
        panel_size: inches per panel.
        title: figure title.
    """
    import matplotlib.pyplot as plt

    pairs = list(pairs)
    if not pairs:
        raise ValueError("patch_pairs_figure needs at least one (name, lr_img, hr_img) triple")
    if hr_range not in ("unit", "signed"):
        raise ValueError(f"hr_range must be 'unit' or 'signed', not {hr_range!r}")
    fig, axes = plt.subplots(2, len(pairs), figsize=(panel_size * len(pairs), panel_size * 2 + 0.9), squeeze=False)
    for column, (name, lr_img, hr_img) in enumerate(pairs):
        shown_hr = (hr_img + 1) / 2 if hr_range == "signed" else hr_img
        for row, (kind, img, display) in enumerate((("LR", lr_img, lr_img), ("HR", hr_img, shown_hr))):
            ax = axes[row, column]
            ax.imshow(image_array(display), interpolation="nearest")
            shape = "x".join(str(s) for s in img.shape)
            label = f"{kind} {shape}\n[{float(img.min()):.2f}, {float(img.max()):.2f}]"
            ax.set_xlabel(label, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, column].set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def resampling_weights_figure(
    weights: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    centres: Mapping[str, float] | None = None,
    xlabel: str = "HR pixel",
    title: str | None = None,
) -> Figure:
    """The weights that one LR pixel gives to the HR pixels around it, one stem plot per method (lesson 01).

    Shows at a glance how many HR pixels each method mixes (its support), how smooth the
    mixing is, whether some weights are negative (bicubic's lobes sharpen), and where the
    LR pixel sits on the HR grid.

    Args:
        weights: method -> (HR pixel positions, weights), e.g. a row of
            :func:`srgan_edu.degradation.resize_matrix`; weights usually sum to 1.
        centres: method -> the LR pixel's centre in HR pixel coordinates, drawn as a
            dashed line; None: not drawn.
        xlabel: what the positions are.
        title: figure title.

    Returns:
        A figure with one panel per method, sharing both axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(weights)
    if not names:
        raise ValueError("resampling_weights_figure needs at least one method")
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 2.9), sharex=True, sharey=True,
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        positions, values = (np.asarray(part, dtype=float) for part in weights[name])
        used = np.abs(values) > 1e-9
        ax.stem(positions[used], values[used], basefmt=" ")
        ax.axhline(0, color="0.5", linewidth=0.8)
        if centres is not None and name in centres:
            ax.axvline(centres[name], color="tab:red", linestyle="--", linewidth=1,
                       label=f"LR pixel centre {centres[name]:g}")
            ax.legend(fontsize=7, loc="upper right")
        ax.set_title(f"{name}\n{int(used.sum())} taps, sum {values.sum():.3f}", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("weight")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
