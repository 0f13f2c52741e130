"""Checks for exercises 04: phi_i,j in VGG19 and the VGG content loss (eq. 5)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from srgan_edu.checks._common import (
    _as_float, _call, _close, _digits, _fail, _gap_text, _largest_gap, _name, _passed, _seeded, _sentence,
    _single_threaded, _unchanged, _which_mistake,
)
from srgan_edu import losses, paper, vgg

VGG_LAYER_INDEX = "Exercise 4.1 (phi_i,j in VGG19)"
VGG_CONTENT_LOSS = "Exercise 4.2 (VGG content loss)"

CONVS_PER_BLOCK = (2, 2, 4, 4, 4)  # VGG19: convolutions between max-poolings


@_single_threaded
def check_vgg_layer_index(layer_index: Callable[[int, int], int]) -> None:
    """Exercise 4.1: where phi_i,j sits in ``torchvision.models.vgg19().features``.

    phi_i,j is "the feature map obtained by the j-th convolution (after activation) before
    the i-th maxpooling layer"; ``layer_index(i, j)`` must equal
    ``srgan_edu.vgg.LAYER_INDICES[f"relu{i}_{j}"]`` for every layer of VGG19.

    Recognises: the convolution's index instead of its activation's, counting from 1,
    forgetting the pooling layers, counting convolutions only.

    Args:
        layer_index: ``(i, j) -> int``, the index in ``vgg19().features``.
    """

    exercise = VGG_LAYER_INDEX
    pairs = [(i, j) for i, count in enumerate(CONVS_PER_BLOCK, start=1) for j in range(1, count + 1)]
    expected = torch.tensor([vgg.LAYER_INDICES[f"relu{i}_{j}"] for i, j in pairs], dtype=torch.float64)
    got = torch.tensor([_as_float(exercise, _call(exercise, layer_index, i, j), _name(layer_index))
                        for i, j in pairs], dtype=torch.float64)
    if torch.equal(got, expected):
        _passed(exercise, "all 16 phi_i,j of VGG19 found; phi_2,2 is features[8] and phi_5,4 is features[35].")
        return
    block = torch.tensor([i for i, _ in pairs], dtype=torch.float64)
    convs_before = torch.tensor([sum(CONVS_PER_BLOCK[: i - 1]) + j - 1 for i, j in pairs], dtype=torch.float64)
    mistakes = [
        ("you return the convolution's index; phi_i,j is taken after the activation, which is the next layer "
         "(the ReLU after conv i,j: add 1).", lambda: expected - 1),
        ("your indices are one too large: Python (and nn.Sequential) count from 0.", lambda: expected + 1),
        ("you forgot the max-pooling layers: each block before block i ends with a pool, one more layer each.",
         lambda: expected - (block - 1)),
        ("you counted convolutions only; vgg19().features also holds a ReLU after every convolution and a "
         "max-pool after every block.", lambda: convs_before),
    ]
    mistake = _which_mistake(got, mistakes, atol=0)
    wrong = [f"phi_{i},{j}: {' instead of '.join(_digits(float(g), float(e)))}"
             for (i, j), g, e in zip(pairs, got, expected) if g != e]
    listed = ", ".join(wrong[:4]) + (" ..." if len(wrong) > 4 else "")
    advice = _sentence(mistake) if mistake else "vgg19().features is conv, ReLU, conv, ReLU, pool, conv, ... from 0."
    raise _fail(exercise, f"wrong for {listed}. {advice}")


@_single_threaded
def check_vgg_content_loss(content_loss: Callable[..., torch.Tensor], *, convention: str = "mean") -> None:
    """Exercise 4.2: the VGG content loss of eq. 5, with the paper's rescaling of the features.

    ``content_loss(phi, sr_img, hr_img, rescale=1/12.75)`` takes a feature extractor ``phi``
    (an image batch in [-1, 1] -> a feature map (B, C, h, w)) and must equal
    :class:`srgan_edu.losses.VGGContentLoss` with the same features (phi_2,2 of a randomly
    initialised VGG19 here: the formula is what is checked). The gradient must reach
    ``sr_img`` and not ``hr_img``.

    Recognises: MSE on pixels instead of features, the rescaling forgotten or applied to the
    loss instead of the features, a sum instead of a mean, the generator's features detached
    (no gradient to the generator), the target's features not detached, an input changed in
    place. Tolerances: the value within 1e-4 relative, the gradient within 1e-3 of its largest
    element; an unknown value shows digits that differ and the relative gap, an unknown gradient
    where it is furthest from the reference's.

    Two conventions are accepted when the learner says which one they use: ``"mean"`` (the
    course's, the mean over channels and positions, as most ports) and ``"eq5"`` (the paper's
    formula as written: the sum over channels divided by W H, averaged over the batch; C times
    larger). An eq. 5 answer checked as ``"mean"`` is told how to say so, not called a mistake.

    Args:
        content_loss: ``(phi, sr_img, hr_img, rescale=...) -> scalar tensor``.
        convention: ``"mean"`` or ``"eq5"``.
    """

    if convention not in ("mean", "eq5"):
        raise ValueError(f"convention is 'mean' (the course's) or 'eq5' (sum over channels / (W H)), got {convention!r}")

    exercise = VGG_CONTENT_LOSS
    layer = "relu2_2"
    rescale = paper.VGG_RESCALE
    with _seeded(4) as generator:
        reference = losses.VGGContentLoss(layer, weights=None, rescale=rescale)
        hr_img = torch.rand(2, 3, 24, 20, generator=generator) * 2 - 1
        sr_img = (hr_img + 0.3 * torch.randn(2, 3, 24, 20, generator=generator)).clamp(-1, 1)

    def phi(img: torch.Tensor) -> torch.Tensor:
        return reference.vgg(img)[layer]

    channels = int(phi(hr_img[:1]).shape[1])
    factor = channels if convention == "eq5" else 1
    expected = reference(sr_img, hr_img).double().item() * factor
    sr_given = sr_img.clone().requires_grad_(True)
    hr_given = hr_img.clone().requires_grad_(True)
    loss = _call(exercise, content_loss, phi, sr_given, hr_given, rescale=rescale)
    _unchanged(exercise, [("sr_img", sr_given, sr_img), ("hr_img", hr_given, hr_img)])
    got = _as_float(exercise, loss, _name(content_loss))
    if not _close(got, expected, rtol=1e-4, atol=0):
        with torch.no_grad():
            sr_features, hr_features = phi(sr_img).double(), phi(hr_img).double()
        plain = F.mse_loss(sr_features, hr_features).item()
        mistakes = [
            ("you computed the MSE between the images (pixels); eq. 5 compares their VGG feature maps: "
             "phi(sr_img) against phi(hr_img).", lambda: F.mse_loss(sr_img, hr_img).item()),
            ("you forgot the rescaling: the paper multiplies the feature maps by 1/12.75 before the squared "
             "difference, i.e. the loss by (1/12.75)^2.", lambda: plain),
            ("you multiplied the loss by the rescale factor once; the paper rescales the feature maps, so the "
             "squared difference shrinks by rescale^2.", lambda: plain * rescale),
            ("you summed the squared differences; the loss is their mean (divide by the number of elements, "
             "so that it does not grow with the image or batch size).",
             lambda: (((sr_features - hr_features) * rescale) ** 2).sum().item()),
        ]
        if convention == "mean":
            mistakes.append((
                f"that is eq. 5 as the paper writes it (the sum over the {channels} channels divided by W H), a valid "
                "convention but not the course's mean, and {channels} times larger against the fixed weight 1e-3. "
                "If you mean it, say so: checks.check_vgg_content_loss(vgg_content_loss, convention=\"eq5\").",
                lambda: expected * channels))
        else:
            mistakes.append((
                "that is the mean over channels (the course's convention); you said convention=\"eq5\", the sum "
                "over channels divided by W H. Sum over the channel axis, or check with convention=\"mean\".",
                lambda: expected / channels))
        mistake = _which_mistake(got, mistakes, rtol=1e-4, atol=0)
        raise _fail(exercise, mistake or (
            f"none of the usual mistakes: {_gap_text(got, expected)}. The loss is the mean of (rescale * "
            "phi(sr_img) - rescale * phi(hr_img))^2; check the rescale (on the features, not the loss) and the "
            "mean (over every element)."))
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        raise _fail(exercise, "the loss carries no gradient, so it cannot train the generator. Return a tensor (not "
                              ".item() or a float) and do not compute phi(sr_img) under torch.no_grad() or detach it.")
    _call(exercise, loss.backward)
    if sr_given.grad is None or not bool(sr_given.grad.abs().sum() > 0):
        raise _fail(exercise, "detached the wrong tensor: no gradient reaches sr_img. Only the target's features "
                              "phi(hr_img) are constants; phi(sr_img) must keep its gradient.")
    if hr_given.grad is not None and bool(hr_given.grad.abs().sum() > 0):
        raise _fail(exercise, "the value is right, but the gradient also flows into hr_img: the target is a "
                              "constant. Compute phi(hr_img) under torch.no_grad() (or .detach() it), which also "
                              "saves the memory of its graph.")
    reference_sr = sr_img.clone().requires_grad_(True)
    (reference(reference_sr, hr_img) * factor).backward()
    if not _close(sr_given.grad.double(), reference_sr.grad.double(), rtol=1e-3):  # within 1e-3 of the largest
        raise _fail(exercise, "the value is right but its gradient with respect to sr_img is not ("
                              + _largest_gap(sr_given.grad.double(), reference_sr.grad.double(), "[b, c, y, x]")
                              + "). Did you detach part of phi(sr_img)?")
    if convention == "eq5":
        _passed(exercise, f"eq. 5 as written: sum over the {channels} channels / (W H) of (phi(sr) / 12.75 - "
                          f"phi(hr) / 12.75)^2 at {layer}, gradient to sr_img only ({channels} times "
                          "srgan_edu.losses.VGGContentLoss, which averages over channels).")
        return
    _passed(exercise, f"mean of (phi(sr) / 12.75 - phi(hr) / 12.75)^2 at {layer}, gradient to sr_img only; "
                      "the same value and gradient as srgan_edu.losses.VGGContentLoss.")
