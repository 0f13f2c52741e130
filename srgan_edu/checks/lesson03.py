"""Checks for exercises 03: the residual block, pixel shuffle, SRResNet's parameter count (sec. 2.1, fig. 4)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from srgan_edu.checks._common import (
    _lacks_argument,
    _as_float, _as_tensor, _call, _calls, _close, _fail, _name, _passed, _largest_gap, _seeded, _sentence, _single_threaded, _unchanged,
    _which_mistake,
)
from srgan_edu import srresnet

RESIDUAL_BLOCK = "Exercise 3.1 (residual block)"
PIXEL_UNSHUFFLE = "Exercise 3.2 (pixel unshuffle, by hand)"
PARAMETER_COUNT = "Exercise 3.3 (parameter count)"

_BLOCK_ORDER = ("Conv2d", "BatchNorm2d", "PReLU", "Conv2d", "BatchNorm2d")


def _leaf_modules_in_call_order(module: nn.Module, features: torch.Tensor, exercise: str) -> tuple[list, torch.Tensor]:
    """The leaf modules (no children) in the order ``forward`` calls them, and the output."""
    called: list[nn.Module] = []
    hooks = [
        leaf.register_forward_hook(lambda mod, inputs, output: called.append(mod))
        for leaf in module.modules()
        if not list(leaf.children())
    ]
    try:
        output = _call(exercise, module, features)
    finally:
        for hook in hooks:
            hook.remove()
    return called, output


def _copy_parameters(source: Sequence[nn.Module], target: Sequence[nn.Module]) -> None:
    """Give each target module the parameters of the source module at the same position."""
    with torch.no_grad():
        for mine, theirs in zip(source, target):
            for name in ("weight", "bias", "running_mean", "running_var"):
                value = getattr(mine, name, None)
                slot = getattr(theirs, name, None)
                if slot is None:
                    continue
                if value is None:  # e.g. a convolution built with bias=False
                    slot.zero_()
                else:
                    slot.copy_(value.detach().expand_as(slot) if value.numel() == 1 else value.detach().view_as(slot))


@_single_threaded
def check_residual_block(block_class: Callable[[int], nn.Module]) -> None:
    """Exercise 3.1: a residual block conv-BN-PReLU-conv-BN plus the block's input (fig. 4).

    The learner's block is built for 8 feature maps and its layers are matched, in the order
    its ``forward`` calls them, with :class:`srgan_edu.srresnet.ResidualBlock`; with the same
    weights both must give the same output, in training and in evaluation mode. Then the
    variation: built with ``res_scale=0.2`` the block must return input + 0.2 * branch (the
    residual scaling of EDSR and ESRGAN).

    Recognises: a missing skip connection, ReLU instead of PReLU, an activation after the sum,
    no batch normalisation, convolutions without padding (the shape shrinks), layers in the
    wrong order, a block that changes its input in place; for the scaling: no res_scale
    argument, the argument ignored, the whole sum scaled, the input scaled.

    Args:
        block_class: the learner's class (or any callable ``(num_features, res_scale=1.0) -> nn.Module``).

    Raises:
        ExerciseError: the block differs from the paper's; the message says how.
        NotImplementedError: the exercise is not done yet.
    """

    exercise = RESIDUAL_BLOCK
    num_features = 8
    with _seeded(3) as generator:
        block = _call(exercise, block_class, num_features)
        reference = srresnet.ResidualBlock(num_features)
        features = torch.randn(2, num_features, 10, 12, generator=generator)
    if not isinstance(block, nn.Module):
        raise _fail(exercise, f"{_name(block_class)}({num_features}) should build an nn.Module, got "
                              f"{type(block).__name__}")
    unpadded = [m for m in block.modules() if isinstance(m, nn.Conv2d) and m.padding not in ((1, 1), "same")]
    if unpadded:
        raise _fail(exercise, f"a convolution has padding={unpadded[0].padding}: without padding=1 a 3x3 "
                              "convolution shrinks the image by 2 pixels, and the skip connection can no longer "
                              "add the input (the shapes differ). Use nn.Conv2d(num_features, num_features, "
                              "kernel_size=3, padding=1).")
    block.train()
    given = features.clone()
    order, output = _leaf_modules_in_call_order(block, given, exercise)
    if not torch.equal(given, features):
        raise _fail(exercise, "your block changed its input tensor in place (an in-place operation such as "
                              "`x += ...` or `inplace=True`). The skip connection needs the input unchanged: "
                              "write `return features + residual`.")
    output = _as_tensor(exercise, output, "forward")
    types = [type(m).__name__ for m in order]
    activations = [t for t in types if t in ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Tanh", "Sigmoid")]
    if "BatchNorm2d" not in types:
        raise _fail(exercise, "your block has no batch normalisation. The paper's block is conv-BN-PReLU-conv-BN "
                              "(nn.BatchNorm2d(num_features) after each convolution), then the sum with the input.")
    if activations and "PReLU" not in types:
        raise _fail(exercise, f"your block uses {activations[0]}; the paper's block uses PReLU "
                              "(nn.PReLU(num_features)), whose slope for negative inputs is learned.")
    if types.count("Conv2d") != 2:
        raise _fail(exercise, f"your block runs {types.count('Conv2d')} convolution(s); it needs two 3x3 "
                              "convolutions with num_features maps in and out.")
    convs = [m for m in order if isinstance(m, nn.Conv2d)]
    if any(tuple(conv.kernel_size) != (3, 3) for conv in convs):
        raise _fail(exercise, f"the convolutions have kernel sizes {[tuple(c.kernel_size) for c in convs]}; "
                              "the paper's residual blocks use 3x3 kernels.")
    if output.shape != features.shape:
        if output.shape[-2:] != features.shape[-2:]:
            raise _fail(exercise, f"an input of shape {tuple(features.shape)} gave an output of shape "
                                  f"{tuple(output.shape)}: the convolutions shrink the image. A 3x3 "
                                  "convolution needs padding=1 to keep the height and width, and the skip "
                                  "connection needs equal shapes.")
        raise _fail(exercise, f"an input of shape {tuple(features.shape)} gave an output of shape "
                              f"{tuple(output.shape)}: both convolutions map num_features to num_features.")
    if types[: len(_BLOCK_ORDER)] == list(_BLOCK_ORDER) and len(types) > len(_BLOCK_ORDER):
        raise _fail(exercise, f"your block runs {' -> '.join(types)}: an activation after the last BN (or after "
                              "the sum). The paper's block ends with BN and the element-wise sum, with no "
                              "activation after it, so that the identity path stays linear.")
    if types != list(_BLOCK_ORDER):
        raise _fail(exercise, f"your block runs its layers in the order {' -> '.join(types)}; the paper's order is "
                              f"{' -> '.join(_BLOCK_ORDER)}, then + the block's input.")

    reference_order, _ = _leaf_modules_in_call_order(reference, features.clone(), exercise)
    _copy_parameters(order, reference_order)
    reference.train()
    expected = reference(features.clone()).detach().double()
    if not _close(output, expected, rtol=1e-4, atol=1e-5):
        # Switch the residual branch off (last BN scaled to zero): what is left is the skip path.
        probe = copy.deepcopy(block)
        probe_order, _ = _leaf_modules_in_call_order(probe, features.clone(), exercise)
        with torch.no_grad():
            probe_order[-1].weight.zero_()
            probe_order[-1].bias.zero_()
        skip = _as_tensor(exercise, _call(exercise, probe, features.clone()), "forward")
        if _close(skip, torch.zeros_like(skip), atol=1e-6):
            raise _fail(exercise, "your block forgot the skip connection: it returns the residual branch only. "
                                  "Add the block's input: `return features + residual`.")
        prelu = probe_order[2]
        if _close(skip, prelu(features.clone()).detach().double(), atol=1e-5):
            raise _fail(exercise, "your block applies PReLU after the sum. The paper's block ends with BN and the "
                                  "element-wise sum, with no activation after it.")
        if not _close(skip, features.double(), atol=1e-5):
            raise _fail(exercise, "with the residual branch switched off, your block does not return its input. "
                                  "The skip connection must add the block's own input (not the output of the first "
                                  "convolution) to the branch's output.")
        raise _fail(exercise, f"with the same weights your block and srgan_edu.srresnet.ResidualBlock differ: "
                              f"{_largest_gap(output, expected, '[b, c, y, x]')}. Check what forward feeds each layer "
                              "(conv1 -> bn1 -> PReLU -> conv2 -> bn2 on the block's input), then + the input.")
    # Evaluation mode uses the running statistics: the same weights must still agree.
    _copy_parameters(order, reference_order)
    block.eval()
    reference.eval()
    with torch.no_grad():
        output = _as_tensor(exercise, _call(exercise, block, features.clone()), "forward")
        expected = reference(features.clone()).double()
    if not _close(output, expected, rtol=1e-4, atol=1e-5):
        raise _fail(exercise, "your block agrees in training mode but not in evaluation mode. Use nn.BatchNorm2d "
                              "modules (not batch statistics computed by hand), so that eval() switches to the "
                              "running statistics.")
    _check_residual_scaling(exercise, block_class, num_features, features, res_scale=0.2)
    parameters = sum(p.numel() for p in block.parameters())
    _passed(exercise, f"conv-BN-PReLU-conv-BN + skip, {parameters} parameters for {num_features} feature maps, "
                      "the same output as srgan_edu.srresnet.ResidualBlock in train and eval mode; with "
                      "res_scale=0.2 it returns input + 0.2 * branch, as EDSR and ESRGAN scale their residuals.")


def _check_residual_scaling(exercise: str, block_class: Callable[..., nn.Module], num_features: int,
                            features: torch.Tensor, *, res_scale: float) -> None:
    """The variation of 3.1: ``block_class(num_features, res_scale=s)`` returns input + s * branch."""
    if _lacks_argument(block_class, "res_scale"):
        raise _fail(exercise, "your block is the paper's, but it has no res_scale argument: add res_scale=1.0 to "
                              "__init__ and return features + res_scale * residual.")
    with _seeded(3):
        block = _call(exercise, block_class, num_features, res_scale=res_scale)
        reference = srresnet.ResidualBlock(num_features)
    block.train()
    reference.train()
    order, output = _leaf_modules_in_call_order(block, features.clone(), exercise)
    reference_order, _ = _leaf_modules_in_call_order(reference, features.clone(), exercise)
    _copy_parameters(order, reference_order)
    got = _as_tensor(exercise, output, "forward")
    branch_off = reference(features.clone()).detach().double() - features.double()  # the residual branch
    x = features.double()
    expected = x + res_scale * branch_off
    if _close(got, expected, rtol=1e-4, atol=1e-5):
        return
    mistakes = [
        (f"with res_scale={res_scale} your block gives the same output as with 1: the argument is ignored. Return "
         "features + self.res_scale * residual.", lambda: x + branch_off),
        ("you scaled the whole sum, res_scale * (features + residual): that also shrinks the identity path, which "
         "must pass the input through unchanged. Scale the residual branch only.",
         lambda: res_scale * (x + branch_off)),
        ("you scaled the input, res_scale * features + residual: the identity path must stay the input itself; "
         "scale the residual branch.", lambda: res_scale * x + branch_off),
    ]
    mistake = _which_mistake(got, mistakes, rtol=1e-4, atol=1e-5)
    raise _fail(exercise, mistake or (
        f"with res_scale={res_scale}: {_largest_gap(got, expected, '[b, c, y, x]')}. The block returns "
        "features + res_scale * bn2(conv2(prelu(bn1(conv1(features)))))."))


def _unshuffle_variants(img: torch.Tensor, factor: int) -> list[tuple[str, Callable[[], torch.Tensor]]]:
    """The usual wrong versions of pixel unshuffle, (B, C, H*r, W*r) -> (B, C*r*r, H, W)."""
    batch, channels, height, width = img.shape
    r = factor
    h, w = height // r, width // r

    def regroup(view: tuple[int, ...], order: tuple[int, ...]) -> torch.Tensor:
        return img.reshape(*view).permute(*order).reshape(batch, channels * r * r, h, w)

    return [
        ("you reshaped without permuting. A plain reshape of (B, C, H*r, W*r) to (B, C*r*r, H, W) cuts each "
         "channel into r*r strips of whole rows; pixel unshuffle collects the pixels at row offset i and column "
         "offset j of every r x r block (a *phase*) into one channel. View the image as (B, C, H, r, W, r) first.",
         lambda: img.reshape(batch, channels * r * r, h, w)),
        ("your channels come out grouped as (i, j, c): F.pixel_unshuffle puts colour c's phases together, "
         "output channel c*r*r + i*r + j. After the view (B, C, H, r, W, r), permute to (B, C, r, r, H, W).",
         lambda: regroup((batch, channels, h, r, w, r), (0, 3, 5, 1, 2, 4))),
        ("the row and column offsets are swapped: output channel c*r*r + i*r + j holds the pixels at row offset "
         "i and column offset j (the view (B, C, H, r, W, r) has i at dim 3 and j at dim 5).",
         lambda: regroup((batch, channels, h, r, w, r), (0, 1, 5, 3, 2, 4))),
        ("your channels hold r x r *tiles* of the image (its top-left quarter, ...) instead of its phases (every "
         "r-th pixel): view the image as (B, C, H, r, W, r), where the offset inside a block comes after the "
         "block's position, not (B, C, r, H, r, W).",
         lambda: regroup((batch, channels, r, h, r, w), (0, 1, 2, 4, 3, 5))),
    ]


@_single_threaded
def check_pixel_unshuffle(pixel_unshuffle: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
    """Exercise 3.2: pixel *unshuffle*, the inverse of the sub-pixel rearrangement, with view and permute.

    The lesson showed ``nn.PixelShuffle``; the learner derives its inverse:
    ``pixel_unshuffle(img, factor)`` must equal ``torch.nn.functional.pixel_unshuffle`` (so that
    ``F.pixel_shuffle`` of it gives the image back) for factors 2 and 3 on non-square inputs with
    distinct values, keep the gradient, and leave its input unchanged.

    Recognises: a reshape without permute, the channels grouped as (i, j, c) instead of
    (c, i, j), row and column offsets swapped, tiles instead of phases, height and width
    swapped, a wrong output shape, a detached output, calling PyTorch's own (un)shuffle.

    Args:
        pixel_unshuffle: ``(img (B, C, r*H, r*W), factor r) -> (B, C*r*r, H, W)``.
    """
    exercise = PIXEL_UNSHUFFLE
    used = _calls(pixel_unshuffle, ("pixel_unshuffle", "PixelUnshuffle", "pixel_shuffle", "PixelShuffle"))
    for batch, channels, factor, height, width in ((2, 2, 2, 3, 4), (1, 3, 3, 2, 5)):
        # Distinct values everywhere, so that every misplaced pixel shows.
        img = torch.arange(batch * channels * factor**2 * height * width, dtype=torch.float32)
        img = img.view(batch, channels, height * factor, width * factor)
        given = img.clone().requires_grad_(True)
        result = _call(exercise, pixel_unshuffle, given, factor)
        _unchanged(exercise, (("img", given, img),))
        got = _as_tensor(exercise, result, _name(pixel_unshuffle))
        expected = F.pixel_unshuffle(img, factor)
        if got.shape != expected.shape:
            raise _fail(exercise, f"an input of shape {tuple(img.shape)} with factor {factor} should give shape "
                                  f"{tuple(expected.shape)} = (B, C*{factor}*{factor}, H/{factor}, W/{factor}), got "
                                  f"{tuple(got.shape)}.")
        if not torch.equal(got, expected.double()):
            mistake = _which_mistake(got, _unshuffle_variants(img, factor), rtol=0, atol=0)
            if mistake is None:
                index = tuple(int(i) for i in torch.nonzero(got != expected.double())[0])
                channel, y, x = index[1], index[2], index[3]
                c, i, j = channel // factor**2, channel % factor**2 // factor, channel % factor
                mistake = (f"output [b, channel, y, x] = {index} should be input pixel [b, {c}, {y * factor + i}, "
                           f"{x * factor + j}] (channel {channel} = c*r*r + i*r + j with c={c}, i={i}, j={j}), "
                           f"value {float(expected[index]):.0f}; yours holds {float(got[index]):.0f}. Check your view and "
                           "the order of the permute.")
            raise _fail(exercise, f"for factor {factor}: " + mistake)
        if isinstance(result, torch.Tensor) and not result.requires_grad:
            raise _fail(exercise, "the output has no gradient: used inside a network (as Real-ESRGAN does before its "
                                  "body), it must let the loss through. Use reshape/view and permute on the tensor "
                                  "itself (no .detach(), .numpy() or torch.tensor(...)).")
    if used is not None:
        raise _fail(exercise, f"your function calls PyTorch's {used}: the answer is right, but the exercise is to "
                              "build the rearrangement yourself with view/reshape and permute.")
    _passed(exercise, "your view-and-permute equals torch.nn.functional.pixel_unshuffle for factors 2 and 3, and "
                      "F.pixel_shuffle of it gives the image back.")


@_single_threaded
def check_parameter_count(count_parameters: Callable[..., int]) -> None:
    """Exercise 3.3: the number of parameters of SRResNet, by formula.

    ``count_parameters(num_features=..., num_blocks=..., scale=...)`` must equal
    :func:`srgan_edu.srresnet.count_parameters` of :class:`srgan_edu.srresnet.SRResNet` for
    the paper's network (1,550,659) and for smaller ones.

    Recognises: forgotten biases, forgotten batch-norm parameters, one PReLU slope instead
    of one per channel, an upsampling convolution to ``num_features`` maps instead of
    ``4 * num_features``, a forgotten convolution after the residual blocks, one upsampling
    block per unit of scale instead of per factor of two.

    Args:
        count_parameters: ``(*, num_features, num_blocks, scale) -> int``.
    """

    exercise = PARAMETER_COUNT
    for num_features, num_blocks, scale in ((64, 16, 4), (8, 1, 2), (16, 3, 8)):
        with _seeded(0):
            expected = srresnet.count_parameters(
                srresnet.SRResNet(scale=scale, num_features=num_features, num_blocks=num_blocks))
        got = _call(exercise, count_parameters, num_features=num_features, num_blocks=num_blocks, scale=scale)
        got = _as_float(exercise, got, _name(count_parameters))
        if got == expected:
            continue
        f, b = num_features, num_blocks
        upsample_blocks = int(math.log2(scale))
        bias = (f + 2 * b * f + f + upsample_blocks * 4 * f + 3)
        batch_norm = 2 * f * (2 * b + 1)
        prelus = 1 + b + upsample_blocks
        mistakes = [
            ("you forgot the biases: every convolution has one bias per output map "
             f"({bias} in all here).", lambda: expected - bias),
            ("you forgot the batch-norm parameters: each BatchNorm2d learns a scale and a shift per map "
             f"(2 * num_features; {batch_norm} in all here). Running statistics are not parameters.",
             lambda: expected - batch_norm),
            ("you counted one PReLU slope per activation; the course's PReLU learns one slope per feature map "
             "(nn.PReLU(num_features)).", lambda: expected - prelus * (f - 1)),
            ("the upsampling convolution maps num_features to 4 * num_features maps (PixelShuffle x2 then turns "
             "them into num_features maps at twice the size).",
             lambda: expected - upsample_blocks * (9 * f * 3 * f + 3 * f)),
            ("you left out the 3x3 convolution and BN after the residual blocks (before the global skip).",
             lambda: expected - (9 * f * f + f + 2 * f)),
            ("there is one x2 upsampling block per factor of two (log2(scale) blocks), not one per unit of scale.",
             lambda: expected + (scale - upsample_blocks) * (9 * f * 4 * f + 4 * f + f)),
            ("the head and tail convolutions use 9x9 kernels (81 weights per input-output pair).",
             lambda: expected - 72 * 3 * f * 2),
        ]
        mistake = _which_mistake(got, mistakes, atol=0.5)
        advice = _sentence(mistake) if mistake else (
            "Count layer by layer: conv weights (k*k*in*out) and biases (out), BN (2 per map), PReLU (1 per map).")
        raise _fail(exercise, f"for num_features={num_features}, num_blocks={num_blocks}, scale={scale} the network "
                              f"has {expected:,} parameters, you counted {got:,.0f}. {advice}")
    _passed(exercise, "your formula gives 1,550,659 parameters for the paper's SRResNet, as counting the "
                      "network does, and the right number for smaller ones.")
