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

This module is the one deliberate exception to "no private copies of library functions":
the wrong versions above exist only to recognise mistakes.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class ExerciseError(AssertionError):
    """An exercise's answer is wrong; the message says what is likely wrong and how to fix it.

    A subclass of ``AssertionError``, so that ``nbgrader``'s autograder and ``pytest`` count
    it as a failed test. In a notebook IPython shows :meth:`_render_traceback_` instead of a
    traceback: one short block (the exercise, what is wrong, where to look), with only the
    lines of the learner's own code when their function raised. The cell still fails, so
    "Run All" and papermill stop there.
    """

    def _render_traceback_(self) -> list[str]:
        import textwrap

        lines = ["\u2717 " + line for line in textwrap.wrap(str(self), width=100)[:1]]
        lines += ["  " + line for line in textwrap.wrap(str(self), width=100)[1:]]
        lines += _learner_frames(self.__cause__)
        return lines


def _learner_frames(error: BaseException | None) -> list[str]:
    """The traceback lines of ``error`` that lie in the learner's code (not this library, not torch)."""
    import os
    import traceback

    if error is None or error.__traceback__ is None:
        return []
    package = os.path.dirname(os.path.abspath(__file__))
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not os.path.abspath(frame.filename).startswith((package, torch_dir))]
    if not frames:
        return []
    return ["  in your code:"] + ["    " + line.rstrip("\n") for line in traceback.format_list(frames[-3:])]


# --- shared machinery ----------------------------------------------------------------------


def _name(function: Any) -> str:
    return getattr(function, "__name__", None) or type(function).__name__


def _describe(value: Any) -> str:
    """A short description of an argument for an error message."""
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}"
    if isinstance(value, nn.Module):
        return type(value).__name__
    if isinstance(value, torch.optim.Optimizer):
        group = value.param_groups[0] if value.param_groups else {}
        return f"{type(value).__name__}(lr={group.get('lr')})"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"{type(value).__name__} of {len(value)} values"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


# Errors whose PyTorch message rarely tells a learner what to change.
_ERROR_HINTS = (
    ("modified by an inplace operation",
     "Usually optimizer.step() ran before loss.backward() (the order is zero_grad, backward, step), or an "
     "in-place operation (+=, inplace=True) changed a tensor that the backward pass needs. "),
    ("does not require grad and does not have a grad_fn",
     "The loss has no graph: something was detached, computed under torch.no_grad(), or turned into a number. "),
    ("Trying to backward through the graph a second time",
     "The same graph was used for two backward passes: in D's step, score sr_img.detach(). "),
)


def _call(exercise: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``function``; NotImplementedError passes, other errors are explained."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except ExerciseError:
        raise
    except Exception as err:
        arguments = [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]
        hint = next((text for clue, text in _ERROR_HINTS if clue in str(err)), "")
        raise ExerciseError(
            f"{exercise}: {_name(function)}({', '.join(arguments)}) raised {type(err).__name__}: {err}. "
            f"{hint}The lines below are the ones in your code."
        ) from err


def _fail(exercise: str, message: str) -> ExerciseError:
    number = _number(exercise)
    pointer = f" (stuck? checks.hint(\"{number}\"))" if number in HINTS else ""
    return ExerciseError(f"{exercise}: {message}{pointer}")


def _number(exercise: str) -> str:
    """ "Exercise 2.3 (the MSE-optimal guess)" -> "2.3"."""
    parts = exercise.split()
    return parts[1] if len(parts) > 1 else exercise


def _digits(got: float, expected: float) -> tuple[str, str]:
    """``got`` and ``expected`` printed with just enough significant digits to tell them apart."""
    for digits in range(4, 17):
        a, b = f"{got:.{digits}g}", f"{expected:.{digits}g}"
        if a != b or got == expected:
            return a, b
    return repr(got), repr(expected)


def _earlier(function: Callable, name: str, reference: Callable) -> Callable | None:
    """The learner's own ``name`` (an earlier exercise's function) that ``function`` can see, if not the library's."""
    candidate = getattr(function, "__globals__", {}).get(name)
    if callable(candidate) and candidate is not reference and getattr(candidate, "__module__", "") != reference.__module__:
        return candidate
    return None


def _largest_gap(got: torch.Tensor, expected: torch.Tensor, layout: str = "") -> str:
    """Where ``got`` is furthest from ``expected``: "at [c, y, x] = (0, 2, 3) you give ..., expected ..."."""
    gap = (got - expected).abs()
    if gap.isnan().any():
        index = tuple(int(i) for i in torch.nonzero(gap.isnan())[0])
    else:
        index = tuple(int(i) for i in torch.unravel_index(gap.argmax(), gap.shape))
    a, b = _digits(float(got[index]), float(expected[index]))
    where = f"{layout} = {index}" if layout else f"{index}"
    return f"the largest difference is at {where}: you give {a}, expected {b}"


def _sentence(text: str) -> str:
    """``text`` with its first letter capitalised, to follow another sentence."""
    return text[:1].upper() + text[1:]


def _passed(exercise: str, message: str) -> None:
    print(f"{exercise} passed: {message}")


def _as_tensor(exercise: str, value: Any, what: str) -> torch.Tensor:
    """The learner's answer as a float64 tensor (a number, an array or a tensor is accepted)."""
    if value is None:
        raise _fail(exercise, f"{what} returned None. Did you forget the `return` statement?")
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64)
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise _fail(exercise, f"{what} should return a tensor or a number, got {type(value).__name__}") from err


def _as_float(exercise: str, value: Any, what: str) -> float:
    tensor = _as_tensor(exercise, value, what)
    if tensor.numel() != 1:
        raise _fail(exercise, f"{what} should return one number, got a tensor of shape {tuple(tensor.shape)}")
    return float(tensor.reshape(()))


def _close(a: torch.Tensor | float, b: torch.Tensor | float, *, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=False))


def _which_mistake(
    got: torch.Tensor | float,
    mistakes: Sequence[tuple[str, Callable[[], Any]]],
    *,
    rtol: float = 1e-4,
    atol: float = 1e-6,
) -> str | None:
    """The description of the first known mistake whose answer equals ``got`` (None: unknown)."""
    for description, compute in mistakes:
        try:
            expected = compute()
        except Exception:  # a mistake that cannot even be computed for this case is not it
            continue
        if _close(got, expected, rtol=rtol, atol=atol):
            return description
    return None


@contextlib.contextmanager
def _seeded(seed: int = 0) -> Iterator[torch.Generator]:
    """A private random state: module initialisation inside is repeatable and the notebook's
    global random state is the same afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


def _single_threaded(check: Callable) -> Callable:
    """Run a check on one CPU thread (restored afterwards).

    The checks work on tiny tensors, for which several threads only wait on each other: on a
    busy machine (a shared CI runner) one thread is many times faster.
    """

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return check(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return wrapper


def _calls(function: Callable, names: Sequence[str]) -> str | None:
    """The first of ``names`` that ``function``'s code calls (``F.name(...)``, ``name(...)``), else None.

    Comments, docstrings and strings do not count. Functions without source (built-ins,
    lambdas typed at a console) give None.
    """
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", None)
            if name in names:
                return name
    return None


# --- lesson 01: the degradation model (sec. 2) -----------------------------------------------

GAUSSIAN_KERNEL = "Exercise 1.1 (Gaussian kernel)"
BLUR_THEN_DECIMATE = "Exercise 1.2 (blur, then decimate)"


def _gaussian_variants(size: int, sigma: float) -> list[tuple[str, Callable[[], torch.Tensor]]]:
    centred = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    squared = centred[:, None] ** 2 + centred[None, :] ** 2  # (size, size): x^2 + y^2

    def normalised(kernel: torch.Tensor) -> torch.Tensor:
        return kernel / kernel.sum()

    from_zero = torch.arange(size, dtype=torch.float64)
    return [
        ("the kernel does not sum to 1: divide it by its sum, so that blurring keeps the brightness of the "
         "image (a flat grey stays the same grey).", lambda: torch.exp(-squared / (2 * sigma**2))),
        ("you normalised with the continuous formula 1 / (2 pi sigma^2). The kernel is sampled and cut off at "
         "size x size, so its sum is not exactly 1: divide by the kernel's own sum instead.",
         lambda: torch.exp(-squared / (2 * sigma**2)) / (2 * math.pi * sigma**2)),
        ("sigma is the standard deviation: the exponent is -(x^2 + y^2) / (2 sigma^2), not / (2 sigma).",
         lambda: normalised(torch.exp(-squared / (2 * sigma)))),
        ("the exponent is -(x^2 + y^2) / (2 sigma^2): the factor 2 is missing.",
         lambda: normalised(torch.exp(-squared / sigma**2))),
        ("the kernel is not centred: the coordinates must run from -(size - 1) / 2 to (size - 1) / 2, so that "
         "the peak is the middle pixel (arange(size) - (size - 1) / 2).",
         lambda: normalised(torch.exp(-(from_zero[:, None] ** 2 + from_zero[None, :] ** 2) / (2 * sigma**2)))),
    ]


@_single_threaded
def check_gaussian_kernel(gaussian_kernel: Callable[[int, float], torch.Tensor]) -> None:
    """Exercise 1.1: a (size, size) Gaussian kernel that sums to 1, centred on the middle pixel.

    ``gaussian_kernel(size, sigma)`` must equal :func:`srgan_edu.degradation.gaussian_kernel`
    for several odd sizes and standard deviations.

    Recognises: a kernel that does not sum to 1, the continuous normalisation 1/(2 pi sigma^2),
    sigma used as the variance, the factor 2 missing, a kernel that is not centred, a 1-D
    kernel or a wrong shape.

    Args:
        gaussian_kernel: ``(size: odd int, sigma: float) -> (size, size) tensor``.
    """
    from srgan_edu import degradation

    exercise = GAUSSIAN_KERNEL
    for size, sigma in ((5, 1.0), (7, 1.5), (3, 0.6), (9, 2.0)):
        got = _as_tensor(exercise, _call(exercise, gaussian_kernel, size, sigma), _name(gaussian_kernel))
        expected = degradation.gaussian_kernel(size, sigma)
        if got.shape != expected.shape:
            hint = (" That is a 1-D kernel: the 2-D Gaussian is the outer product of the 1-D one with itself "
                    "(torch.outer), or exp(-(x^2 + y^2) / (2 sigma^2)) on a grid.") if got.dim() == 1 else ""
            raise _fail(exercise, f"gaussian_kernel({size}, {sigma}) should have shape ({size}, {size}), got "
                                  f"{tuple(got.shape)}.{hint}")
        if _close(got, expected, rtol=1e-5, atol=1e-8):
            continue
        mistake = _which_mistake(got, _gaussian_variants(size, sigma), rtol=1e-5, atol=1e-8)
        if mistake is None and not _close(got.sum(), torch.tensor(1.0, dtype=torch.float64), rtol=1e-6):
            mistake = f"the kernel sums to {float(got.sum()):.4g}; it must sum to 1 (divide it by its sum)."
        raise _fail(exercise, f"gaussian_kernel({size}, {sigma}) is wrong: " + (mistake or (
            "each value is exp(-(x^2 + y^2) / (2 sigma^2)) with x, y measured from the middle pixel, and the "
            "kernel is divided by its sum.")))
    _passed(exercise, "centred, exp(-(x^2 + y^2) / (2 sigma^2)), sums to 1; equal to "
                      "srgan_edu.degradation.gaussian_kernel.")


@_single_threaded
def check_blur_then_decimate(blur_then_decimate: Callable[[torch.Tensor, int, float], torch.Tensor]) -> None:
    """Exercise 1.2: the paper's degradation, a Gaussian blur and then r-fold decimation.

    ``blur_then_decimate(hr_img, scale, sigma)`` must equal
    ``srgan_edu.degradation.degrade(hr_img, scale, method="gaussian", sigma=sigma)``: blur
    with :func:`srgan_edu.degradation.gaussian_blur`, then keep every ``scale``-th pixel,
    starting with the first. Checked on an image (C, H, W) and a batch (B, C, H, W).

    Recognises: decimation before the blur, no blur at all (aliasing), the sigma argument
    ignored, the wrong sampling phase (starting at scale // 2), averaging blocks instead
    of sampling, a wrong output size.

    Args:
        blur_then_decimate: ``(hr_img, scale, sigma) -> lr_img``.
    """
    from srgan_edu import degradation

    exercise = BLUR_THEN_DECIMATE
    with _seeded(11) as generator:
        # Fine stripes plus noise: without the blur they alias, which makes the mistakes visible.
        columns = torch.arange(24, dtype=torch.float64)
        stripes = 0.5 + 0.4 * torch.cos(2.6 * columns)[None, None, :].expand(3, 20, 24)
        hr_img = (stripes + 0.1 * torch.rand(3, 20, 24, generator=generator, dtype=torch.float64)).float()
        batch = torch.rand(2, 3, 16, 12, generator=generator)
    for given, scale, sigma in ((hr_img, 4, 1.5), (batch, 2, 0.8)):
        got = _as_tensor(exercise, _call(exercise, blur_then_decimate, given.clone(), scale, sigma),
                         _name(blur_then_decimate))
        expected = degradation.degrade(given, scale, method="gaussian", sigma=sigma).double()
        if got.shape != expected.shape:
            raise _fail(exercise, f"an image of shape {tuple(given.shape)} at scale {scale} should give shape "
                                  f"{tuple(expected.shape)} (every {scale}-th row and column), got {tuple(got.shape)}.")
        if _close(got, expected, rtol=1e-4, atol=1e-5):
            continue
        blur = degradation.gaussian_blur
        mistakes = [
            ("you decimated before blurring. The blur must come first: it removes the detail that the coarser "
             "grid cannot hold; blurring afterwards only softens the aliasing that is already there.",
             lambda: blur(degradation.decimate(given, scale), sigma)),
            ("there is no blur: keeping every r-th pixel of the sharp image aliases (fine stripes turn into false, "
             "coarse ones). Blur with degradation.gaussian_blur(hr_img, sigma) first.",
             lambda: degradation.decimate(given, scale)),
            ("you ignored the sigma argument (and blurred with the default (r - 1) / 2): blur with "
             "degradation.gaussian_blur(hr_img, sigma).",
             lambda: degradation.decimate(blur(given, degradation.gaussian_sigma_for(scale)), scale)),
            (f"the sampling starts at the wrong pixel: keep rows and columns 0, r, 2r, ... (img[..., ::r, ::r]), "
             f"as degradation.decimate does, not {scale // 2}, {scale // 2} + r, ...",
             lambda: blur(given, sigma)[..., scale // 2::scale, scale // 2::scale]),
            ("you averaged r x r blocks (a box filter). The paper's model blurs with a Gaussian and then keeps "
             "single pixels.",
             lambda: F.avg_pool2d(blur(given, sigma) if given.dim() == 4 else blur(given, sigma)[None], scale)
             .reshape(expected.shape)),
            ("you averaged r x r blocks of the sharp image instead of blurring with a Gaussian and then keeping "
             "every r-th pixel.",
             lambda: F.avg_pool2d(given if given.dim() == 4 else given[None], scale).reshape(expected.shape)),
        ]
        mistake = _which_mistake(got, mistakes, rtol=1e-4, atol=1e-5)
        raise _fail(exercise, mistake or (
            f"the result differs from degradation.degrade(hr_img, {scale}, method='gaussian', sigma={sigma}) by "
            f"up to {float((got - expected).abs().max()):.3g}. Blur with degradation.gaussian_blur, then keep "
            "img[..., ::scale, ::scale]."))
    _passed(exercise, "Gaussian blur, then every r-th pixel from the first; equal to "
                      "srgan_edu.degradation.degrade(..., method='gaussian').")


# --- lesson 02: baselines, MSE and the metrics (eq. 4, sec. 3.1) -----------------------------

RGB_TO_Y = "Exercise 2.1 (the Y channel)"
PSNR_Y = "Exercise 2.2 (PSNR on Y with the shave)"
MSE_BEST_GUESS = "Exercise 2.3 (the MSE-optimal guess)"


@_single_threaded
def check_rgb_to_y(rgb_to_y: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Exercise 2.1: the luma channel Y of ITU-R BT.601, as MATLAB's ``rgb2ycbcr`` computes it.

    ``rgb_to_y(img)`` takes (3, H, W) RGB in [0, 1] and must equal
    :func:`srgan_edu.images.rgb_to_y`: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255,
    shape (1, H, W), values in [16/255, 235/255].

    Recognises: the +16 offset forgotten, the full-range JPEG/Pillow weights
    (0.299, 0.587, 0.114), the coefficients of the 0-255 scale used on [0, 1] values, the
    offset not divided by 255, the channels read in BGR order, the channel dimension dropped.

    Args:
        rgb_to_y: ``(3, H, W) in [0, 1] -> (1, H, W)``.
    """
    from srgan_edu import images

    exercise = RGB_TO_Y
    with _seeded(21) as generator:
        img = torch.rand(3, 6, 7, generator=generator)
    img[:, 0, 0] = torch.tensor([1.0, 1.0, 1.0])  # white -> 235/255
    img[:, 0, 1] = torch.tensor([0.0, 0.0, 0.0])  # black -> 16/255
    got = _as_tensor(exercise, _call(exercise, rgb_to_y, img.clone()), _name(rgb_to_y))
    expected = images.rgb_to_y(img.double())
    if got.shape != expected.shape:
        if got.shape == expected.shape[1:]:
            raise _fail(exercise, "keep the channel dimension: Y of a (3, H, W) image is (1, H, W) "
                                  "(unsqueeze(0), or keepdim=True), so that it is still an image.")
        raise _fail(exercise, f"a (3, H, W) image gives Y of shape (1, H, W) = {tuple(expected.shape)}, got "
                              f"{tuple(got.shape)}.")
    if _close(got, expected, rtol=1e-5, atol=1e-6):
        _passed(exercise, "Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255: white is 235/255, black 16/255, as "
                          "srgan_edu.images.rgb_to_y.")
        return
    r, g, b = img.double()
    weights = (65.481, 128.553, 24.966)

    def luma(red, green, blue, scale=255.0, offset=16.0):
        return ((offset + weights[0] * red + weights[1] * green + weights[2] * blue) / scale).unsqueeze(0)

    mistakes = [
        ("the offset is missing: MATLAB's Y starts at 16/255 for black (studio range 16-235), so add 16/255.",
         lambda: luma(r, g, b, offset=0.0)),
        ("those are the full-range JPEG/Pillow weights (0.299, 0.587, 0.114). SR papers measure on MATLAB's "
         "rgb2ycbcr: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255.",
         lambda: (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(0)),
        ("the coefficients 65.481, 128.553, 24.966 and the offset 16 are for the 0-255 scale; for an image in "
         "[0, 1] divide them all by 255.", lambda: luma(r, g, b, scale=1.0)),
        ("the offset 16 is on the 0-255 scale: for [0, 1] images it is 16/255.",
         lambda: luma(r, g, b, offset=0.0) + 16.0),
        ("the channels are read in the wrong order (BGR): channel 0 is red, 1 green, 2 blue.",
         lambda: luma(b, g, r)),
        ("you rounded Y to whole 8-bit levels (round(255 Y) / 255): the metric works on the unrounded values, "
         "so keep Y as a float.", lambda: torch.round(luma(r, g, b) * 255) / 255),
        ("you rounded Y down to 8-bit levels (floor or a uint8 conversion): keep Y as a float.",
         lambda: torch.floor(luma(r, g, b) * 255) / 255),
    ]
    mistake = _which_mistake(got, mistakes, rtol=1e-4, atol=1e-6)
    if mistake is None:
        white, black = _digits(float(got.reshape(-1)[0]), 235 / 255), _digits(float(got.reshape(-1)[1]), 16 / 255)
        mistake = (f"{_largest_gap(got, expected, '[c, y, x]')}. White gives {white[0]} (expected 235/255 = "
                   f"{white[1]}), black {black[0]} (expected 16/255 = {black[1]}).")
    raise _fail(exercise, mistake)


def _psnr_case(generator: torch.Generator, height: int, width: int, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An HR image and an estimate whose errors differ in colour, in the border and inside."""
    hr_img = torch.rand(3, height, width, generator=generator, dtype=torch.float64) * 0.8 + 0.1
    sr_img = hr_img + 0.05 * torch.randn(3, height, width, generator=generator, dtype=torch.float64)
    sr_img[0] += 0.08  # a colour cast: Y and RGB measurements disagree
    sr_img[:, :scale, :] = 0.0  # a bad border, as SR networks produce: the shave matters
    sr_img[:, :, -scale:] = 1.0
    return sr_img.clamp(0, 1).float(), hr_img.float()


@_single_threaded
def check_psnr_y(psnr_y: Callable[[torch.Tensor, torch.Tensor, int], float]) -> None:
    """Exercise 2.2: PSNR as SR papers measure it, on Y with ``scale`` pixels shaved from each border.

    ``psnr_y(sr_img, hr_img, scale)`` takes (3, H, W) images in [0, 1] and must equal
    ``srgan_edu.metrics.psnr(sr_img, hr_img, scale=scale)``.

    Recognises: PSNR on RGB instead of Y, the shave forgotten, shaving only the top and left
    borders, shaving twice as much, the peak 255 used for [0, 1] images, 20 log10 of the
    MSE instead of 10 log10 (or the RMSE with 10 log10).

    Args:
        psnr_y: ``(sr_img (3, H, W), hr_img (3, H, W), scale) -> float in dB``.
    """
    from srgan_edu import images, metrics

    exercise = PSNR_Y
    with _seeded(22) as generator:
        cases = [_psnr_case(generator, 24, 28, 4), _psnr_case(generator, 18, 16, 2)]
    for (sr_img, hr_img), scale in zip(cases, (4, 2)):
        got = _as_float(exercise, _call(exercise, psnr_y, sr_img.clone(), hr_img.clone(), scale), _name(psnr_y))
        expected = metrics.psnr(sr_img, hr_img, scale=scale)
        if _close(got, expected, rtol=0, atol=1e-4):
            continue
        if math.isnan(got):
            raise _fail(exercise, f"for scale {scale} your PSNR is NaN: the mean of an empty tensor. Check which axes "
                                  "you sliced: Y has shape (1, H, W), and the shave removes rows and columns, the "
                                  "last two axes (img[..., s:-s, s:-s]), not the channel axis.")
        own = _earlier(psnr_y, "rgb_to_y", images.rgb_to_y)
        if own is not None:
            try:
                own_y = (own(sr_img.clone()).double(), own(hr_img.clone()).double())
                own_error = float(((own_y[0] - own_y[1])[..., scale:-scale, scale:-scale] ** 2).mean())
                own_psnr = 10 * math.log10(1 / own_error)
            except Exception:
                own_psnr = None
            if own_psnr is not None and _close(got, own_psnr, rtol=0, atol=1e-4):
                raise _fail(exercise, f"your psnr_y is right, but it calls your rgb_to_y from exercise 2.1, which is "
                                      "wrong: fix exercise 2.1 first (its check cell says how), then rerun this one.")
        sr_y, hr_y = images.rgb_to_y(sr_img.double()), images.rgb_to_y(hr_img.double())

        def mse(shave_top: int, shave_bottom: int, y: bool = True) -> float:
            a, b = (sr_y, hr_y) if y else (sr_img.double(), hr_img.double())
            height, width = a.shape[-2:]
            a = a[..., shave_top: height - shave_bottom, shave_top: width - shave_bottom]
            b = b[..., shave_top: height - shave_bottom, shave_top: width - shave_bottom]
            return float(((a - b) ** 2).mean())

        mistakes = [
            ("that is the PSNR on RGB. SR papers (and the paper's table) measure on the luma channel Y "
             "(images.rgb_to_y); on RGB the same images score differently.",
             lambda: metrics.psnr(sr_img, hr_img, scale=scale, y_channel=False)),
            (f"you forgot the shave: remove {scale} pixels from every border (the scale) before measuring, "
             "img[..., s:-s, s:-s]. Networks cannot see past the border, and the paper's numbers leave it out.",
             lambda: metrics.psnr(sr_img, hr_img, shave=0)),
            ("you measured on RGB and forgot the shave: convert both images to Y and remove scale pixels from "
             "every border.",
             lambda: metrics.psnr(sr_img, hr_img, shave=0, y_channel=False)),
            ("you shaved only the top and left borders: img[..., s:, s:] keeps the bottom and right ones; use "
             "img[..., s:-s, s:-s].", lambda: 10 * math.log10(1 / mse(scale, 0))),
            (f"you shaved 4 pixels at scale {scale}: the protocol removes `scale` pixels from each border (4 only "
             "because the paper's scale is 4), so use the scale argument.",
             lambda: metrics.psnr(sr_img, hr_img, shave=4) if scale != 4 else float("nan")),
            ("you shaved 2 * scale pixels; the protocol removes scale pixels from each border.",
             lambda: metrics.psnr(sr_img, hr_img, shave=2 * scale)),
            ("wrong range: for images in [0, 1] the peak value is 1, so PSNR = 10 log10(1 / MSE). With 255 you add "
             "48.1 dB.", lambda: 10 * math.log10(255**2 / mse(scale, scale))),
            ("PSNR = 10 log10(peak^2 / MSE), or 20 log10(peak / RMSE); you used 20 log10 with the MSE.",
             lambda: 20 * math.log10(1 / mse(scale, scale))),
            ("PSNR = 10 log10(peak^2 / MSE), or 20 log10(peak / RMSE); you used 10 log10 with the RMSE.",
             lambda: 10 * math.log10(1 / math.sqrt(mse(scale, scale)))),
        ]
        mistake = _which_mistake(got, mistakes, rtol=0, atol=1e-4)
        got_text, expected_text = _digits(got, expected)
        raise _fail(exercise, f"for scale {scale} (an image of {tuple(hr_img.shape)}) the PSNR is {expected_text} dB, "
                              f"you gave {got_text} dB. " + (
            _sentence(mistake) if mistake else
            "None of the usual mistakes gives that number: check each step on this image (your Y of both images, "
            "the shape after the shave, the MSE, then the formula with peak 1)."))
    _passed(exercise, "Y channel, border of scale pixels removed, 10 log10(1 / MSE); equal to "
                      "srgan_edu.metrics.psnr(sr_img, hr_img, scale=scale).")


@_single_threaded
def check_mse_best_guess(best_guess: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise 2.3: the single estimate with the least expected MSE over HR candidates of unequal probability.

    ``best_guess(candidates, probabilities)`` takes K candidate HR patches (K, C, H, W) that
    share one LR patch and their probabilities (K,) (summing to 1), and must return the
    (C, H, W) estimate that minimises the expected MSE sum_k p_k mean((e - x_k)^2) (eq. 4): the
    probability-weighted pixel-wise mean. The check uses unequal probabilities.

    Recognises: the probabilities ignored (the plain mean), the most probable candidate
    returned, one of the candidates returned, the median (the L1 optimum), a wrong shape;
    otherwise it shows the largest difference and the gap in expected MSE.

    Args:
        best_guess: ``(K, C, H, W), (K,) -> (C, H, W)``.
    """
    exercise = MSE_BEST_GUESS
    with _seeded(23) as generator:
        candidates = torch.rand(5, 3, 6, 8, generator=generator)
    probabilities = torch.tensor([0.4, 0.25, 0.15, 0.12, 0.08])
    got = _as_tensor(exercise, _call(exercise, best_guess, candidates.clone(), probabilities.clone()),
                     _name(best_guess))
    if got.shape != candidates.shape[1:]:
        raise _fail(exercise, f"{candidates.shape[0]} candidates of shape {tuple(candidates.shape[1:])} give one "
                              f"estimate of that shape, got {tuple(got.shape)}. Combine the candidates along "
                              "dimension 0.")
    weights = probabilities.double().reshape(-1, 1, 1, 1)

    def expected_mse(estimate: torch.Tensor) -> float:
        squared = ((estimate.double().unsqueeze(0) - candidates.double()) ** 2).mean(dim=(1, 2, 3))
        return float((probabilities.double() * squared).sum())

    best = (weights * candidates.double()).sum(dim=0)
    if _close(got, best, rtol=1e-5, atol=1e-6):
        _passed(exercise, f"the probability-weighted mean: expected MSE {expected_mse(got):.5f}, lower than the plain "
                          f"mean's ({expected_mse(candidates.mean(dim=0)):.5f}) and any single candidate's (best "
                          f"{min(expected_mse(c) for c in candidates):.5f}).")
        return
    mistakes = [
        ("you ignored the probabilities: the candidates are not equally likely here, and the expected squared "
         "error weighs each one by its probability.", lambda: candidates.mean(dim=0)),
        ("that is the median, which minimises the mean *absolute* error (L1), and it ignores the probabilities. "
         "The squared error of eq. 4 is minimised by another statistic: differentiate sum_k p_k (e - x_k)^2.",
         lambda: candidates.median(dim=0).values),
        (f"you returned the most probable candidate (0, p = {float(probabilities[0]):.2f}): sharp and plausible, "
         f"but its expected MSE is {expected_mse(candidates[0]):.5f}, and a blurrier estimate reaches "
         f"{expected_mse(best):.5f}.", lambda: candidates[0]),
    ] + [
        (f"you returned candidate {k}: sharp and plausible, but its expected MSE is {expected_mse(candidate):.5f}, "
         f"and a blurrier estimate reaches {expected_mse(best):.5f}. One sharp answer is not what minimises the "
         "expected squared error.", lambda candidate=candidate: candidate)
        for k, candidate in enumerate(candidates) if k > 0
    ]
    mistake = _which_mistake(got, mistakes, rtol=1e-5, atol=1e-6)
    if mistake is None:
        got_mse, best_mse = _digits(expected_mse(got), expected_mse(best))
        mistake = (f"your estimate has an expected MSE of {got_mse} over the candidates; the best possible is "
                   f"{best_mse} (a gap of {(expected_mse(got) - expected_mse(best)) / expected_mse(best):.2e} "
                   f"relative); {_largest_gap(got, best, '[c, y, x]')}. Check how you use `probabilities`.")
    raise _fail(exercise, mistake)


# --- lesson 03: SRResNet (sec. 2.1) ----------------------------------------------------------

RESIDUAL_BLOCK = "Exercise 3.1 (residual block)"
PIXEL_SHUFFLE = "Exercise 3.2 (pixel shuffle)"
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
    weights both must give the same output, in training and in evaluation mode.

    Recognises: a missing skip connection, ReLU instead of PReLU, an activation after the sum,
    no batch normalisation, convolutions without padding (the shape shrinks), layers in the
    wrong order, a block that changes its input in place.

    Args:
        block_class: the learner's class (or any callable ``num_features -> nn.Module``).

    Raises:
        ExerciseError: the block differs from the paper's; the message says how.
        NotImplementedError: the exercise is not done yet.
    """
    from srgan_edu.srresnet import ResidualBlock

    exercise = RESIDUAL_BLOCK
    num_features = 8
    with _seeded(3) as generator:
        block = _call(exercise, block_class, num_features)
        reference = ResidualBlock(num_features)
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
        gap = (output - expected).abs().max().item()
        raise _fail(exercise, f"with the same weights your block and srgan_edu.srresnet.ResidualBlock differ by up to "
                              f"{gap:.3g}. Check the order conv1 -> bn1 -> PReLU -> conv2 -> bn2, then + input.")
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
    parameters = sum(p.numel() for p in block.parameters())
    _passed(exercise, f"conv-BN-PReLU-conv-BN + skip, {parameters} parameters for {num_features} feature maps, "
                      "the same output as srgan_edu.srresnet.ResidualBlock in train and eval mode.")


def _shuffle_variants(features: torch.Tensor, factor: int) -> list[tuple[str, Callable[[], torch.Tensor]]]:
    batch, channels, height, width = features.shape
    out_channels = channels // (factor * factor)
    r = factor
    return [
        ("you reshaped without permuting. A plain reshape of (B, C*r*r, H, W) to (B, C, r*H, r*W) lays "
         "whole channels one after the other; pixel shuffle interleaves them. View the input as "
         "(B, C, r, r, H, W), permute to (B, C, H, r, W, r), then reshape to (B, C, H*r, W*r).",
         lambda: features.reshape(batch, out_channels, height * r, width * r)),
        ("you split the channels as (r, r, C), but PixelShuffle sends input channel c*r*r + i*r + j to "
         "output channel c at row offset i and column offset j: view the input as (B, C, r, r, H, W).",
         lambda: features.view(batch, r, r, out_channels, height, width).permute(0, 3, 4, 1, 5, 2)
         .reshape(batch, out_channels, height * r, width * r)),
        ("the row and column offsets are swapped: channel c*r*r + i*r + j goes to row offset i and column "
         "offset j. After viewing as (B, C, r, r, H, W), permute to (B, C, H, r, W, r) (dims 0, 1, 4, 2, 5, 3).",
         lambda: features.view(batch, out_channels, r, r, height, width).permute(0, 1, 4, 3, 5, 2)
         .reshape(batch, out_channels, height * r, width * r)),
        ("your output puts r*r small copies of the image side by side (tiles) instead of interleaving the "
         "sub-pixels: in (B, C, H, r, W, r) the sub-pixel offset must come after the LR position, not before.",
         lambda: features.view(batch, out_channels, r, r, height, width).permute(0, 1, 2, 4, 3, 5)
         .reshape(batch, out_channels, height * r, width * r)),
    ]


@_single_threaded
def check_pixel_shuffle(pixel_shuffle: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
    """Exercise 3.2: pixel shuffle (sub-pixel convolution's rearrangement) with reshape and permute.

    The learner's ``pixel_shuffle(features, factor)`` must equal ``torch.nn.functional.pixel_shuffle``
    for factors 2 and 3 on non-square inputs, and keep the gradient.

    Recognises: a reshape without permute, channels split as (r, r, C) instead of (C, r, r),
    row and column offsets swapped, tiles instead of interleaving, a wrong output shape,
    calling PyTorch's own pixel shuffle.

    Args:
        pixel_shuffle: ``(features (B, C*r*r, H, W), factor r) -> (B, C, r*H, r*W)``.
    """
    exercise = PIXEL_SHUFFLE
    used = _calls(pixel_shuffle, ("pixel_shuffle", "PixelShuffle"))
    for batch, channels, factor, height, width in ((2, 2, 2, 3, 4), (1, 1, 3, 2, 5)):
        # Distinct values everywhere, so that every misplaced pixel shows.
        features = torch.arange(batch * channels * factor**2 * height * width, dtype=torch.float32)
        features = features.view(batch, channels * factor**2, height, width)
        given = features.clone().requires_grad_(True)
        result = _call(exercise, pixel_shuffle, given, factor)
        got = _as_tensor(exercise, result, _name(pixel_shuffle))
        expected = F.pixel_shuffle(features, factor)
        if got.shape != expected.shape:
            raise _fail(exercise, f"an input of shape {tuple(features.shape)} with factor {factor} should give shape "
                                  f"{tuple(expected.shape)} = (B, C, {factor}*H, {factor}*W), got {tuple(got.shape)}.")
        if not torch.equal(got, expected.double()):
            if _close(got.transpose(-1, -2).contiguous().view(expected.shape), expected) or (
                _close(got, expected.transpose(-1, -2).reshape(got.shape))
            ):
                raise _fail(exercise, "height and width are swapped somewhere: keep H before W in the permute.")
            mistake = _which_mistake(got, _shuffle_variants(features, factor), atol=0)
            raise _fail(exercise, mistake or (
                f"for factor {factor} the pixels are not where PixelShuffle puts them. Output pixel "
                "(c, y*r + i, x*r + j) must be input channel c*r*r + i*r + j at (y, x)."))
        if isinstance(result, torch.Tensor) and not result.requires_grad:
            raise _fail(exercise, "the output has no gradient: a sub-pixel convolution must let the loss reach the "
                                  "convolution before it. Use reshape/view and permute on the tensor itself (no "
                                  ".detach(), .numpy() or torch.tensor(...)).")
    if used is not None:
        raise _fail(exercise, f"your function calls PyTorch's {used}: the answer is right, but the exercise is to "
                              "build the rearrangement yourself with view/reshape and permute.")
    _passed(exercise, "your reshape-and-permute equals torch.nn.functional.pixel_shuffle for factors 2 and 3.")


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
    from srgan_edu import srresnet

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


# --- lesson 04: the VGG content loss (eq. 5) -------------------------------------------------

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
    from srgan_edu.vgg import LAYER_INDICES

    exercise = VGG_LAYER_INDEX
    pairs = [(i, j) for i, count in enumerate(CONVS_PER_BLOCK, start=1) for j in range(1, count + 1)]
    expected = torch.tensor([LAYER_INDICES[f"relu{i}_{j}"] for i, j in pairs], dtype=torch.float64)
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
    wrong = [f"phi_{i},{j}: {int(g)} instead of {int(e)}" for (i, j), g, e in zip(pairs, got, expected) if g != e]
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
    (no gradient to the generator), the target's features not detached.

    Two conventions are accepted when the learner says which one they use: ``"mean"`` (the
    course's, the mean over channels and positions, as most ports) and ``"eq5"`` (the paper's
    formula as written: the sum over channels divided by W H, averaged over the batch; C times
    larger). An eq. 5 answer checked as ``"mean"`` is told how to say so, not called a mistake.

    Args:
        content_loss: ``(phi, sr_img, hr_img, rescale=...) -> scalar tensor``.
        convention: ``"mean"`` or ``"eq5"``.
    """
    from srgan_edu.losses import VGGContentLoss

    if convention not in ("mean", "eq5"):
        raise ValueError(f"convention is 'mean' (the course's) or 'eq5' (sum over channels / (W H)), got {convention!r}")

    exercise = VGG_CONTENT_LOSS
    layer = "relu2_2"
    rescale = 1 / 12.75
    with _seeded(4) as generator:
        reference = VGGContentLoss(layer, weights=None, rescale=rescale)
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
            f"the loss is {got:.6g}, expected {expected:.6g}: the mean of (rescale * phi(sr_img) - "
            "rescale * phi(hr_img))^2."))
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
    if not _close(sr_given.grad.double(), reference_sr.grad.double(), rtol=1e-3, atol=1e-9):
        raise _fail(exercise, "the value is right but its gradient with respect to sr_img is not. Did you detach "
                              "part of phi(sr_img)?")
    if convention == "eq5":
        _passed(exercise, f"eq. 5 as written: sum over the {channels} channels / (W H) of (phi(sr) / 12.75 - "
                          f"phi(hr) / 12.75)^2 at {layer}, gradient to sr_img only ({channels} times "
                          "srgan_edu.losses.VGGContentLoss, which averages over channels).")
        return
    _passed(exercise, f"mean of (phi(sr) / 12.75 - phi(hr) / 12.75)^2 at {layer}, gradient to sr_img only; "
                      "the same value and gradient as srgan_edu.losses.VGGContentLoss.")


# --- lesson 05: the discriminator and its loss (eq. 2, 6) ------------------------------------

DISCRIMINATOR_LOSS = "Exercise 5.1 (discriminator loss)"
GENERATOR_LOSS = "Exercise 5.2 (adversarial loss of the generator)"

# Logits of a confidently wrong D: sigmoid rounds to exactly 0 or 1 in float32.
_EXTREME = 200.0


def _logit_cases(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    real_logits = torch.randn(6, generator=generator) * 2 + 0.5
    fake_logits = torch.randn(5, generator=generator) * 2 - 0.5
    return real_logits, fake_logits


def _check_gradient(exercise: str, loss: Any, inputs: Sequence[torch.Tensor], expected_grads: Sequence[torch.Tensor],
                    names: Sequence[str]) -> None:
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        raise _fail(exercise, "the loss carries no gradient, so it cannot train anything. Return a tensor computed "
                              "from the logits (no .item(), .detach(), float(...) or torch.tensor(...)).")
    loss.backward()
    for given, expected, name in zip(inputs, expected_grads, names):
        if given.grad is None:
            raise _fail(exercise, f"no gradient reaches {name}: did you detach it?")
        if not _close(given.grad.double(), expected.double(), rtol=1e-3, atol=1e-7):
            raise _fail(exercise, f"the value is right but the gradient with respect to {name} is not.")


@_single_threaded
def check_discriminator_loss(discriminator_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise 5.1: D's loss (eq. 2) in its numerically stable form, from logits.

    ``discriminator_loss(real_logits, fake_logits)`` must equal
    :func:`srgan_edu.losses.discriminator_loss`: -mean log D(I_HR) - mean log(1 - D(G(I_LR)))
    with D = sigmoid(logit), also for a confidently wrong D (logits of +-200), and give the
    same gradient.

    Recognises: sigmoid applied twice (on logits already turned into probabilities),
    labels swapped, the minus sign forgotten, the two terms averaged instead of added, a
    sum over the batch instead of a mean, the unstable log(sigmoid(.)) that overflows, a
    clamp that caps the loss, a loss without gradient.

    Args:
        discriminator_loss: ``(real_logits (B,), fake_logits (B',)) -> scalar tensor``.
    """
    from srgan_edu import losses

    exercise = DISCRIMINATOR_LOSS
    with _seeded(5) as generator:
        real_logits, fake_logits = _logit_cases(generator)
    real_given = real_logits.clone().requires_grad_(True)
    fake_given = fake_logits.clone().requires_grad_(True)
    loss = _call(exercise, discriminator_loss, real_given, fake_given)
    got = _as_float(exercise, loss, _name(discriminator_loss))
    expected = losses.discriminator_loss(real_logits.double(), fake_logits.double()).item()
    if not _close(got, expected, rtol=1e-4):
        real, fake = real_logits.double(), fake_logits.double()
        bce = F.binary_cross_entropy_with_logits

        def twice() -> float:
            real_term = bce(torch.sigmoid(real), torch.ones_like(real))  # BCE-with-logits of probabilities
            fake_term = bce(torch.sigmoid(fake), torch.zeros_like(fake))
            return (real_term + fake_term).item()

        mistakes = [
            ("sigmoid applied twice: binary_cross_entropy_with_logits applies the sigmoid itself, so pass it the raw "
             "logits (or use binary_cross_entropy on sigmoid(logits), not both).", twice),
            ("sigmoid applied twice: your logits went through a sigmoid before log-sigmoid/softplus. The "
             "discriminator returns logits; D = sigmoid(logit) is taken once, inside the loss.",
             lambda: (F.softplus(-torch.sigmoid(real)).mean() + F.softplus(torch.sigmoid(fake)).mean()).item()),
            ("real and fake labels are swapped: D should call HR images real (label 1) and generator outputs "
             "fake (label 0).", lambda: losses.discriminator_loss(fake, real).item()),
            ("real and fake labels are swapped: D should call HR images real (label 1) and generator outputs "
             "fake (label 0).", lambda: (F.softplus(real).mean() + F.softplus(-fake).mean()).item()),
            ("the sign is flipped: D maximises log D(real) + log(1 - D(fake)), so the loss it minimises is minus "
             "that (always >= 0).", lambda: -expected),
            ("you averaged the two terms; eq. 2 adds them: mean(-log D(real)) + mean(-log(1 - D(fake))) "
             "(2 log 2 = 1.386 when D cannot tell).", lambda: expected / 2),
            ("you summed over the batch; take the mean of each term, so that the loss does not grow with the "
             "batch size.", lambda: (F.softplus(-real).sum() + F.softplus(fake).sum()).item()),
            ("you took the mean over real and fake logits together; with batches of different sizes that weighs "
             "them unequally. Average each term separately and add the two.",
             lambda: torch.cat([F.softplus(-real), F.softplus(fake)]).mean().item()),
        ]
        mistake = _which_mistake(got, mistakes, rtol=1e-4)
        raise _fail(exercise, mistake or (
            f"the loss is {got:.6g}, expected {expected:.6g} = mean(-log sigmoid(real_logits)) + "
            "mean(-log(1 - sigmoid(fake_logits)))."))
    real_reference = real_logits.clone().requires_grad_(True)
    fake_reference = fake_logits.clone().requires_grad_(True)
    expected_grads = torch.autograd.grad(losses.discriminator_loss(real_reference, fake_reference),
                                         (real_reference, fake_reference))
    _check_gradient(exercise, loss, (real_given, fake_given), expected_grads, ("real_logits", "fake_logits"))
    # A confidently wrong discriminator: sigmoid(-200) is exactly 0 in float32.
    real_extreme = torch.tensor([-_EXTREME, 3.0])
    fake_extreme = torch.tensor([_EXTREME, -2.0])
    got_extreme = _as_float(exercise, _call(exercise, discriminator_loss, real_extreme, fake_extreme),
                            _name(discriminator_loss))
    expected_extreme = losses.discriminator_loss(real_extreme.double(), fake_extreme.double()).item()
    if not math.isfinite(got_extreme):
        raise _fail(exercise, f"for a confidently wrong D (logits of +-{_EXTREME:.0f}) your loss is {got_extreme}: "
                              "log(sigmoid(z)) overflows once sigmoid rounds to 0. Compute it from the logits: "
                              "log sigmoid(z) = -softplus(-z), log(1 - sigmoid(z)) = -softplus(z), or use "
                              "F.binary_cross_entropy_with_logits.")
    if not _close(got_extreme, expected_extreme, rtol=1e-3):
        raise _fail(exercise, f"for a confidently wrong D (logits of +-{_EXTREME:.0f}) your loss is {got_extreme:.4g} "
                              f"instead of {expected_extreme:.4g}: a clamp or an epsilon inside the log caps the "
                              "loss, and with it the gradient, exactly when D is most wrong. Compute it from the "
                              "logits with softplus or F.binary_cross_entropy_with_logits.")
    _passed(exercise, "-mean log D(HR) - mean log(1 - D(SR)) from logits, finite even for logits of +-200, "
                      "equal to srgan_edu.losses.discriminator_loss.")


@_single_threaded
def check_generator_adversarial_loss(adversarial_loss: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Exercise 5.2: the generator's adversarial loss l_Gen = -log D(G(I_LR)) (eq. 6), from logits.

    ``adversarial_loss(fake_logits)`` must equal
    :func:`srgan_edu.losses.generator_adversarial_loss` (the non-saturating form, averaged
    over the batch), also for logits of -200, with the same gradient.

    Recognises: the saturating form log(1 - D(G(z))), the fakes labelled fake (D's target
    instead of G's), the minus sign forgotten, sigmoid applied twice, the unstable
    log(sigmoid(.)), a sum instead of a mean, a loss without gradient.

    Args:
        adversarial_loss: ``fake_logits (B,) -> scalar tensor``.
    """
    from srgan_edu import losses

    exercise = GENERATOR_LOSS
    with _seeded(6) as generator:
        _, fake_logits = _logit_cases(generator)
    fake_given = fake_logits.clone().requires_grad_(True)
    loss = _call(exercise, adversarial_loss, fake_given)
    got = _as_float(exercise, loss, _name(adversarial_loss))
    fake = fake_logits.double()
    expected = losses.generator_adversarial_loss(fake).item()
    if not _close(got, expected, rtol=1e-4):
        mistakes = [
            ("that is the saturating form, log(1 - D(G(z))) (to minimise). It gives almost no gradient when D "
             "rejects the fakes, which is when G most needs one; eq. 6 uses -log D(G(z)).",
             lambda: (-F.softplus(fake)).mean().item()),
            ("you labelled the generator's outputs as fake (0): that is D's target. The generator wants D to call "
             "them real: -log D(G(z)), i.e. BCE with label 1.", lambda: F.softplus(fake).mean().item()),
            ("the sign is flipped: l_Gen = -log D(G(z)) is >= 0 and falls as D is fooled.",
             lambda: -expected),
            ("sigmoid applied twice: the discriminator returns logits; take the sigmoid once (or let "
             "binary_cross_entropy_with_logits do it).",
             lambda: F.binary_cross_entropy_with_logits(torch.sigmoid(fake), torch.ones_like(fake)).item()),
            ("you summed over the batch; take the mean.", lambda: F.softplus(-fake).sum().item()),
        ]
        mistake = _which_mistake(got, mistakes, rtol=1e-4)
        raise _fail(exercise, mistake or (
            f"the loss is {got:.6g}, expected {expected:.6g} = mean(-log sigmoid(fake_logits))."))
    reference_logits = fake_logits.clone().requires_grad_(True)
    expected_grad = torch.autograd.grad(losses.generator_adversarial_loss(reference_logits), reference_logits)
    _check_gradient(exercise, loss, (fake_given,), expected_grad, ("fake_logits",))
    extreme = torch.tensor([-_EXTREME, 1.0])
    got_extreme = _as_float(exercise, _call(exercise, adversarial_loss, extreme), _name(adversarial_loss))
    expected_extreme = losses.generator_adversarial_loss(extreme.double()).item()
    if not math.isfinite(got_extreme) or not _close(got_extreme, expected_extreme, rtol=1e-3):
        raise _fail(exercise, f"when D rejects a fake with a logit of -{_EXTREME:.0f} your loss is {got_extreme:.4g} "
                              f"instead of {expected_extreme:.4g}: log(sigmoid(z)) overflows (or an epsilon caps "
                              "it). Use -log sigmoid(z) = softplus(-z) or F.binary_cross_entropy_with_logits.")
    _passed(exercise, "-mean log D(G(z)) from logits (non-saturating, stable), equal to "
                      "srgan_edu.losses.generator_adversarial_loss.")


# --- lesson 06: adversarial training, one step of each network (eq. 1-3, 6) ------------------

DISCRIMINATOR_STEP = "Exercise 6.1 (one discriminator step)"
GENERATOR_STEP = "Exercise 6.2 (one generator step)"

# A generator step is checked with a larger adversarial weight than the paper's 1e-3, so that
# the adversarial term's share of the update is large enough to see.
_CHECK_ADVERSARIAL_WEIGHT = 0.05


def _tiny_game(seed: int) -> tuple[nn.Module, nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A tiny SRResNet, a tiny discriminator (in float64, so that small differences show) and two batches."""
    from srgan_edu.discriminator import Discriminator
    from srgan_edu.srresnet import SRResNet

    with _seeded(seed) as generator:
        network = SRResNet(scale=4, num_features=8, num_blocks=1).double().train()
        judge = Discriminator(in_size=16, num_features=4).double().train()
        batches = []
        for _ in range(2):
            lr_img = torch.rand(3, 3, 4, 4, generator=generator, dtype=torch.float64)  # [0, 1]
            hr_img = torch.rand(3, 3, 16, 16, generator=generator, dtype=torch.float64) * 2 - 1  # [-1, 1]
            batches.append((lr_img, hr_img))
    return network, judge, batches


def _flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def _relative_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def _holds_gradients(module: nn.Module) -> bool:
    return any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters())


def _play_discriminator_steps(step: Callable, seed: int, exercise: str | None = None):
    """Two D steps with ``step``; returns (D's parameter change, G after, the results)."""
    network, judge, batches = _tiny_game(seed)
    before = _flat(judge)
    optimizer = torch.optim.SGD(judge.parameters(), lr=0.05)
    results = []
    for lr_img, hr_img in batches:
        sr_img = network(lr_img)  # with its graph back to G, as in training
        hr_before = hr_img.clone()
        if exercise is None:
            results.append(step(judge, optimizer, hr_img, sr_img))
        else:
            results.append(_call(exercise, step, judge, optimizer, hr_img, sr_img))
            if sr_img.grad_fn is None:
                raise _fail(exercise, "after your step sr_img has lost its graph: sr_img.detach_() (with the "
                                      "underscore) detaches the caller's tensor in place, so G's step that follows "
                                      "cannot train G. Score discriminator(sr_img.detach()), a new tensor.")
            if not torch.equal(hr_img, hr_before):
                raise _fail(exercise, "your step changed hr_img in place; the caller still needs it. Use operations "
                                      "that return new tensors.")
            if all(p.grad is None or not bool(p.grad.abs().sum() > 0) for p in judge.parameters()):
                nothing_left = True
            else:
                nothing_left = False
            results[-1] = (results[-1], nothing_left)
    if exercise is not None:
        stepless = all(left for _, left in results)
        results = [result for result, _ in results]
        results.append(stepless)
    return _flat(judge) - before, network, results


def _play_generator_steps(step: Callable, seed: int, exercise: str | None = None, *, adversarial_weight: float):
    """Two G steps with ``step``; returns (G's parameter change, D after, the results)."""
    from srgan_edu.losses import mse_content_loss

    network, judge, batches = _tiny_game(seed)
    before = _flat(network)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.05)
    results = []
    judged_with_graph: list[tuple[bool, bool, bool]] = []  # per call of D: input with a graph, grad mode on, train mode
    hook = judge.register_forward_pre_hook(lambda module, inputs: judged_with_graph.append(
        (inputs[0].requires_grad, torch.is_grad_enabled(), module.training)))
    try:
        for lr_img, hr_img in batches:
            sr_img = network(lr_img)
            args = (judge, optimizer, sr_img, hr_img, mse_content_loss)
            if exercise is None:
                results.append(step(*args, adversarial_weight=adversarial_weight))
            else:
                results.append(_call(exercise, step, *args, adversarial_weight=adversarial_weight))
    finally:
        hook.remove()
    results.append(judged_with_graph)
    return _flat(network) - before, judge, results


def _discriminator_step_mistake(kind: str) -> Callable:
    """The library's D step with one typical mistake made on purpose."""
    from srgan_edu.losses import discriminator_loss

    def step(discriminator, optimizer, hr_img, sr_img):
        if kind == "joint_batch":
            logits = discriminator(torch.cat([hr_img, sr_img.detach()]))
            real_logits, fake_logits = logits[: len(hr_img)], logits[len(hr_img):]
        else:
            real_logits = discriminator(hr_img)
            fake_logits = discriminator(sr_img.detach())
        if kind == "probabilities":
            real_logits, fake_logits = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
        loss = (discriminator_loss(fake_logits, real_logits) if kind == "swapped"
                else -discriminator_loss(real_logits, fake_logits) if kind == "ascent"
                else discriminator_loss(real_logits, fake_logits))
        if kind != "no_zero_grad":
            optimizer.zero_grad()
        loss.backward()
        if kind != "no_step":
            optimizer.step()
        return {}

    return step


@_single_threaded
def check_discriminator_step(discriminator_step: Callable[..., dict]) -> None:
    """Exercise 6.1: one update of the discriminator (eq. 2), as in :func:`srgan_edu.training.discriminator_step`.

    ``discriminator_step(discriminator, optimizer, hr_img, sr_img)`` gets a tiny D, its SGD
    optimiser, HR crops in [-1, 1] and the output of a tiny generator *with its graph*. Two
    steps on two batches must change D exactly as the library's two steps do, leave the
    generator without gradients, and return ``{"discriminator_loss", "d_real", "d_fake"}``
    (the loss, and the mean D(x) and D(G(z)), probabilities, before the update).

    Recognises: the generator's output not detached (D's loss reaches G), ``zero_grad``
    forgotten (gradients pile up over steps), ``optimizer.step()`` forgotten or called
    before ``backward``, labels swapped, gradient ascent (the sign), real and fake scored
    in one batch (batch norm then mixes them), D(x) and D(G(z)) returned as logits.

    Args:
        discriminator_step: ``(discriminator, optimizer, hr_img, sr_img) -> dict``.
    """
    from srgan_edu import training

    exercise = DISCRIMINATOR_STEP
    seed = 61
    got_change, network, results = _play_discriminator_steps(discriminator_step, seed, exercise)
    no_gradients_left, results = results[-1], results[:-1]
    expected_change, _, expected_results = _play_discriminator_steps(training.discriminator_step, seed)
    if _holds_gradients(network):
        raise _fail(exercise, "the generator received gradients from D's loss: you forgot to detach sr_img. Score "
                              "discriminator(sr_img.detach()): D's step must train D only (and backpropagating "
                              "through G costs time and leaves stale gradients in G).")
    if _relative_gap(got_change, expected_change) > 1e-5:
        if float(got_change.abs().max()) == 0.0:
            if no_gradients_left:
                raise _fail(exercise, "D's weights did not change and no gradient was left for step() to use: "
                                      "zero_grad() ran between backward() and step() (or backward() never ran). "
                                      "The order is zero_grad(), backward(), step().")
            raise _fail(exercise, "D's weights did not change though the gradients are there: call "
                                  "optimizer.step() after loss.backward().")
        mistakes = [
            ("zero_grad is missing: PyTorch adds new gradients to the old ones, so the second step also applied "
             "the first step's gradient. Call optimizer.zero_grad() before loss.backward().", "no_zero_grad"),
            ("real and fake labels are swapped: D should push D(hr_img) towards 1 and D(sr_img) towards 0 "
             "(losses.discriminator_loss(real_logits, fake_logits)).", "swapped"),
            ("you passed probabilities (sigmoid of D's output) where losses.discriminator_loss expects logits: "
             "it applies the sigmoid itself, so yours ran twice. Pass discriminator(...) unchanged.", "probabilities"),
            ("D climbed its loss instead of descending it (a sign): minimise losses.discriminator_loss, the "
             "optimiser does the descent.", "ascent"),
            ("you scored real and fake images in one batch (torch.cat). With batch norm in D, each image is then "
             "normalised with statistics of both kinds, a different step from the course's, which scores them as "
             "two batches: discriminator(hr_img) and discriminator(sr_img.detach()).", "joint_batch"),
        ]
        for description, kind in mistakes:
            change, _, _ = _play_discriminator_steps(_discriminator_step_mistake(kind), seed)
            if _relative_gap(got_change, change) < 1e-5:
                raise _fail(exercise, description)
        raise _fail(exercise, f"after two steps D's weights differ from srgan_edu.training.discriminator_step's by "
                              f"{_relative_gap(got_change, expected_change):.2%} of the change. The step is: logits of "
                              "hr_img and of sr_img.detach(), losses.discriminator_loss(real_logits, fake_logits), "
                              "zero_grad, backward, step.")
    for got, expected in zip(results, expected_results):
        if not isinstance(got, dict):
            raise _fail(exercise, f"return a dict with discriminator_loss, d_real and d_fake, got {type(got).__name__}")
        missing = [key for key in expected if key not in got]
        if missing:
            raise _fail(exercise, f"the returned dict lacks {missing}; it needs discriminator_loss, d_real (mean "
                                  "D(x)) and d_fake (mean D(G(z))), as the training curves of lesson 06 plot them.")
        for key in expected:
            value = _as_float(exercise, got[key], f"the value of {key!r}")
            if _close(value, float(expected[key]), rtol=1e-4):
                continue
            if key != "discriminator_loss":
                raise _fail(exercise, f"{key} is {value:.4g}, expected {float(expected[key]):.4g}: it is the mean "
                                      "probability sigmoid(logits).mean() (not the mean logit), measured on the "
                                      "logits computed before the update.")
            raise _fail(exercise, f"discriminator_loss is {value:.4g}, expected {float(expected[key]):.4g} "
                                  "(the loss before the update).")
    _passed(exercise, "sr_img detached, zero_grad -> backward -> step, the same update as "
                      "srgan_edu.training.discriminator_step; D(x) and D(G(z)) reported as probabilities.")


def _generator_step_mistake(kind: str) -> Callable:
    """A generator step with one typical mistake made on purpose."""
    from srgan_edu.losses import generator_adversarial_loss

    def step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight):
        judged = sr_img.detach() if kind == "detached" else sr_img
        fake_logits = discriminator(judged)
        if kind == "saturating":
            adversarial = -F.softplus(fake_logits).mean()  # log(1 - D(G(z)))
        elif kind == "fake_label":
            adversarial = F.softplus(fake_logits).mean()  # -log(1 - D(G(z))): BCE with label 0
        elif kind == "probabilities":
            adversarial = generator_adversarial_loss(torch.sigmoid(fake_logits))
        elif kind == "sign":
            adversarial = -generator_adversarial_loss(fake_logits)
        else:
            adversarial = generator_adversarial_loss(fake_logits)
        weight = {"unweighted": 1.0, "paper_weight": 1e-3}.get(kind, adversarial_weight)
        content_input = sr_img.detach() if kind == "content_detached" else sr_img
        total = content_loss(content_input, hr_img) + (0.0 if kind == "content_only" else weight) * adversarial
        if kind != "no_zero_grad":
            optimizer.zero_grad()
        total.backward()
        optimizer.step()
        return {}

    return step


@_single_threaded
def check_generator_step(generator_step: Callable[..., dict]) -> None:
    """Exercise 6.2: one update of the generator with l_SR = l_X + w * l_Gen (eq. 3, 6).

    ``generator_step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight=...)``
    gets D, G's SGD optimiser, G's output *with its graph*, the targets, a content loss
    (MSE here) and the weight w (0.05 in the check, so that the adversarial part of the update
    is large enough to see; the paper's is 1e-3). Two steps must change G exactly as
    :func:`srgan_edu.training.generator_step` does, leave D's weights without gradients and
    trainable afterwards, and return ``{"generator_loss", "content_loss", "adversarial_loss"}``
    (l_SR, l_X, and l_Gen before its weight).

    Recognises: sr_img detached before D (the adversarial term then teaches G nothing), the
    saturating log(1 - D(G(z))), the fakes labelled fake, the weight forgotten or fixed at
    1e-3 instead of the argument, ``zero_grad`` forgotten, D's weights collecting gradients
    (not frozen) or left frozen afterwards, the adversarial term left out.

    Args:
        generator_step: ``(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight) -> dict``.
    """
    from srgan_edu import losses, training

    exercise = GENERATOR_STEP
    seed = 62
    weight = _CHECK_ADVERSARIAL_WEIGHT

    def reference(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight):
        return training.generator_step(discriminator, optimizer, sr_img, hr_img,
                                       losses.PerceptualLoss(content_loss, adversarial_weight))

    got_change, judge, results = _play_generator_steps(generator_step, seed, exercise, adversarial_weight=weight)
    expected_change, _, expected_results = _play_generator_steps(reference, seed, adversarial_weight=weight)
    calls, results, expected_results = results[-1], results[:-1], expected_results[:-1]
    judged_with_graph = [with_graph and grad_mode for with_graph, grad_mode, _ in calls]
    if calls and all(not grad_mode for _, grad_mode, _ in calls):
        raise _fail(exercise, "D ran under torch.no_grad(): that freezes more than D, it cuts the path from the "
                              "adversarial loss back to G, so G learns from the content loss alone. Freeze D's "
                              "weights with discriminator.requires_grad_(False) instead; the gradient still flows "
                              "through D to sr_img.")
    if calls and calls[0][2] and any(not training_mode for _, _, training_mode in calls):
        raise _fail(exercise, "D is left in eval mode after your step (the next call of D found it so); D's next "
                              "step would then train it with batch norm in the wrong mode. Do not call eval() here "
                              "(freeze with requires_grad_(False)).")
    if calls and not calls[0][2]:
        raise _fail(exercise, "discriminator.eval() does not freeze D: it switches batch norm to its running "
                              "statistics (another loss than the course's) and D's weights still collect gradients. "
                              "Keep D in train mode and freeze its weights with requires_grad_(False).")
    if float(got_change.abs().max()) == 0.0:
        raise _fail(exercise, "the generator's weights did not change: compute the loss from sr_img (not detached), "
                              "then optimizer.zero_grad(), loss.backward(), optimizer.step().")
    if _relative_gap(got_change, expected_change) > 1e-5:
        if not judged_with_graph:
            raise _fail(exercise, "the adversarial term is missing: D never judged sr_img. l_SR = l_X + "
                                  "adversarial_weight * losses.generator_adversarial_loss(discriminator(sr_img)).")
        if not any(judged_with_graph):
            raise _fail(exercise, "detached the wrong tensor: D judged sr_img.detach() (or ran under torch.no_grad()), "
                                  "so the adversarial loss cannot reach the generator and G learns from the content "
                                  "loss alone. Detach G's output only in D's step; here D must judge sr_img itself.")
        mistakes = [
            ("that is the saturating form log(1 - D(G(z))): it gives G almost no gradient while D rejects its "
             "outputs. Use l_Gen = -log D(G(z)) = losses.generator_adversarial_loss(fake_logits).", "saturating"),
            ("you labelled the generator's outputs as fake, which is D's goal. G wants D to call them real: "
             "losses.generator_adversarial_loss(fake_logits).", "fake_label"),
            ("the adversarial term is not weighted: l_SR = l_X + adversarial_weight * l_Gen (1e-3 in the paper).",
             "unweighted"),
            ("you wrote 1e-3 instead of using the adversarial_weight argument (the check passes 0.05).",
             "paper_weight"),
            ("the adversarial term has no effect on the update (a weight of 0, or added after backward()): "
             "l_SR = l_X + adversarial_weight * l_Gen.", "content_only"),
            ("zero_grad is missing: PyTorch adds new gradients to the old ones, so the second step also applied "
             "the first step's gradient. Call optimizer.zero_grad() before backward().", "no_zero_grad"),
            ("you passed probabilities (sigmoid of D's output) where losses.generator_adversarial_loss expects "
             "logits: the sigmoid then runs twice. Pass discriminator(sr_img) unchanged.", "probabilities"),
            ("the adversarial term has the wrong sign: l_SR = l_X + w * l_Gen, and l_Gen = -log D(G(z)) already "
             "carries its minus. Subtracting it makes G help D.", "sign"),
            ("the content loss got sr_img.detach(): it then sends no gradient to G, which learns from the "
             "adversarial term alone. Detach nothing in G's step.", "content_detached"),
        ]
        for description, kind in mistakes:
            change, _, _ = _play_generator_steps(_generator_step_mistake(kind), seed, adversarial_weight=weight)
            if _relative_gap(got_change, change) < 1e-5:
                raise _fail(exercise, description)
        raise _fail(exercise, f"after two steps G's weights differ from srgan_edu.training.generator_step's by "
                              f"{_relative_gap(got_change, expected_change):.2%} of the change. The step is: "
                              "fake_logits = discriminator(sr_img), l_SR = content_loss(sr_img, hr_img) + "
                              "adversarial_weight * losses.generator_adversarial_loss(fake_logits), zero_grad, "
                              "backward, step.")
    if _holds_gradients(judge):
        raise _fail(exercise, "D's weights collected gradients during G's step. Freeze D with "
                              "discriminator.requires_grad_(False) before loss.backward(), and switch it back on "
                              "after it: the gradient flows through D to G, but D is not trained here.")
    if not judge.training:
        raise _fail(exercise, "D is left in eval mode after your step; D's next step would train it with batch norm "
                              "in the wrong mode. Do not call eval() here (freeze with requires_grad_(False)).")
    if not all(p.requires_grad for p in judge.parameters()):
        raise _fail(exercise, "D's weights are still frozen after your step, so D's next step could not train it. "
                              "Call discriminator.requires_grad_(True) at the end (a try/finally keeps it safe).")
    for got, expected in zip(results, expected_results):
        if not isinstance(got, dict):
            raise _fail(exercise, f"return a dict with generator_loss, content_loss and adversarial_loss, got "
                                  f"{type(got).__name__}")
        missing = [key for key in expected if key not in got]
        if missing:
            raise _fail(exercise, f"the returned dict lacks {missing}; it needs generator_loss (l_SR), content_loss "
                                  "(l_X) and adversarial_loss (l_Gen before its weight).")
        for key in expected:
            value = _as_float(exercise, got[key], f"the value of {key!r}")
            if not _close(value, float(expected[key]), rtol=1e-4):
                hint = " (report l_Gen before it is multiplied by the weight)" if key == "adversarial_loss" else ""
                raise _fail(exercise, f"{key} is {value:.6g}, expected {float(expected[key]):.6g}{hint}.")
    _passed(exercise, "l_SR = l_X + w * (-log D(G(z))) with D judging sr_img itself, D frozen during the step; "
                      "the same update as srgan_edu.training.generator_step.")


# --- lesson 07: the mean opinion score (sec. 3.4) --------------------------------------------

MOS_INTERVAL = "Exercise 7.1 (MOS with a confidence interval)"
SUPERIORITY = "Exercise 7.2 (which method do raters prefer?)"


@_single_threaded
def check_mos_interval(mos_interval: Callable[..., Sequence[float]]) -> None:
    """Exercise 7.1: the MOS of a method and its t-based confidence interval.

    ``mos_interval(scores, confidence=0.95)`` must return ``(mean, low, high)`` equal to
    :func:`srgan_edu.mos.mean_confidence_interval`: mean +- t_{(1+confidence)/2, n-1} * s / sqrt(n).

    Recognises: the normal quantile 1.96 instead of Student's t, n instead of n - 1 degrees
    of freedom, the population standard deviation (ddof=0), the standard deviation of the
    ratings instead of the standard error of the mean, dividing by n instead of sqrt(n), a
    one-sided quantile.

    Args:
        mos_interval: ``(scores: list of ints 1-5, confidence: float) -> (mean, low, high)``.
    """
    from srgan_edu import mos

    exercise = MOS_INTERVAL
    cases = ([4, 3, 5, 4, 2, 4, 3], [2, 3, 3, 1, 2, 4, 2, 3, 2, 1, 3, 2], [5, 4])
    for scores in cases:
        for confidence in (0.95, 0.9):
            result = _call(exercise, mos_interval, list(scores), confidence=confidence)
            try:
                mean, low, high = (float(v) for v in result)
            except (TypeError, ValueError) as err:
                raise _fail(exercise, f"{_name(mos_interval)} should return three numbers (mean, low, high), got "
                                      f"{result!r}") from err
            expected = mos.mean_confidence_interval(scores, confidence)
            if not _close(mean, expected[0], rtol=1e-9):
                raise _fail(exercise, f"the MOS of {scores} is {expected[0]:.4f} (the mean of the scores), you gave "
                                      f"{mean:.4f}.")
            if _close(torch.tensor([low, high]), torch.tensor(expected[1:]), rtol=1e-6):
                continue
            n = len(scores)
            half = high - mean
            std = torch.tensor(scores, dtype=torch.float64).std(correction=1).item()
            std0 = torch.tensor(scores, dtype=torch.float64).std(correction=0).item()
            t = mos.t_quantile(0.5 + confidence / 2, n - 1)
            z = float(torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(0.5 + confidence / 2,
                                                                             dtype=torch.float64)))
            mistakes = [
                (f"you used the normal quantile ({z:.3f}); with {n} ratings the mean follows Student's t with n - 1 "
                 f"degrees of freedom, whose quantile ({t:.3f}) is larger: the interval was too narrow.",
                 lambda: z * std / math.sqrt(n)),
                ("you used n degrees of freedom; the t quantile has n - 1 (one is spent on the mean).",
                 lambda: mos.t_quantile(0.5 + confidence / 2, n) * std / math.sqrt(n)),
                ("you used the population standard deviation (ddof=0); the sample standard deviation divides by "
                 "n - 1 (torch.std's default, numpy's np.std(..., ddof=1)).", lambda: t * std0 / math.sqrt(n)),
                ("the interval is for single ratings, not for their mean: divide the standard deviation by sqrt(n) "
                 "(the standard error of the mean).", lambda: t * std),
                ("you divided the standard deviation by n; the standard error of the mean divides by sqrt(n).",
                 lambda: t * std / n),
                (f"you used a one-sided quantile: a two-sided {confidence:.0%} interval leaves "
                 f"{(1 - confidence) / 2:.1%} on each side, so take t at {(1 + confidence) / 2:.3f}.",
                 lambda: mos.t_quantile(confidence, n - 1) * std / math.sqrt(n)),
            ]
            if not _close(mean - low, high - mean, rtol=1e-6):
                raise _fail(exercise, f"the interval [{low:.4f}, {high:.4f}] is not centred on the mean {mean:.4f}: "
                                      "it is mean - h to mean + h.")
            mistake = _which_mistake(half, mistakes, rtol=1e-6)
            advice = _sentence(mistake) if mistake else "h = t_{(1+confidence)/2, n-1} * s / sqrt(n), s with ddof=1."
            raise _fail(exercise, f"for the scores {scores} at {confidence:.0%} the interval is "
                                  f"[{expected[1]:.4f}, {expected[2]:.4f}], you gave [{low:.4f}, {high:.4f}]. {advice}")
    _passed(exercise, "mean +- t * s / sqrt(n), equal to srgan_edu.mos.mean_confidence_interval.")


@_single_threaded
def check_probability_of_superiority(superiority: Callable[[Sequence[int], Sequence[int]], float]) -> None:
    """Exercise 7.2: the chance that a rating of one method beats a rating of another, ties half.

    ``superiority(first, second)`` must equal ``srgan_edu.mos.mann_whitney_u(first, second).superiority``:
    the share of all pairs (a from first, b from second) with a > b, ties counting one half.
    This is U / (n1 n2), the effect size behind the Mann-Whitney U test.

    Recognises: ties not counted, ties counted as wins, the groups swapped, dividing by
    n1 + n2 instead of n1 * n2, comparing the means instead of the pairs.

    Args:
        superiority: ``(scores of method A, scores of method B) -> float in [0, 1]``.
    """
    from srgan_edu import mos

    exercise = SUPERIORITY
    cases = (([4, 3, 5, 4, 2], [3, 3, 2, 4, 1, 2]), ([3, 3, 4], [3, 2, 3, 5]), ([5, 5], [1, 2, 2]))
    for first, second in cases:
        got = _as_float(exercise, _call(exercise, superiority, list(first), list(second)), _name(superiority))
        expected = mos.mann_whitney_u(first, second).superiority
        if _close(got, expected, rtol=1e-9):
            continue
        wins = sum(a > b for a in first for b in second)
        ties = sum(a == b for a in first for b in second)
        pairs = len(first) * len(second)
        mistakes = [
            ("ties are not counted. With only five possible scores ties are common; a tie is half a win "
             "(otherwise A vs B and B vs A do not add up to 1).", lambda: wins / pairs),
            ("ties are counted as wins; a tie is half a win.", lambda: (wins + ties) / pairs),
            ("the groups are swapped: the answer is how often a rating of the *first* method beats one of the "
             "second.", lambda: 1 - expected),
            ("divide by the number of pairs, n1 * n2 (every rating of A meets every rating of B), not n1 + n2.",
             lambda: (wins + 0.5 * ties) / (len(first) + len(second))),
        ]
        mistake = _which_mistake(got, mistakes, rtol=1e-9)
        advice = _sentence(mistake) if mistake else (
            "Count every pair (a, b): a win 1, a tie 1/2, a loss 0; divide by n1 * n2.")
        raise _fail(exercise, f"for A = {first} and B = {second} the answer is {expected:.4f} "
                              f"({wins} wins and {ties} ties in {pairs} pairs), you gave {got:.4f}. {advice}")
    _passed(exercise, "wins plus half the ties over all pairs, equal to the superiority of "
                      "srgan_edu.mos.mann_whitney_u.")


# --- the hint ladder -------------------------------------------------------------------------

# For each exercise, hints from a nudge to the answer: checks.hint("2.3") prints the next one.
HINTS: dict[str, tuple[str, ...]] = {
    "1.1": ("A 2-D Gaussian is the product of two 1-D Gaussians, one along each axis.",
            "Sample exp(-x^2 / (2 sigma^2)) at x = -(size - 1)/2, ..., (size - 1)/2; the continuous "
            "normalisation constant does not make a sampled kernel sum to 1.",
            "Answer: x = torch.arange(size) - (size - 1) / 2; g = torch.exp(-x**2 / (2 * sigma**2)); "
            "k = torch.outer(g, g); return k / k.sum()."),
    "1.2": ("The order matters: what happens to frequencies above the new Nyquist limit if you sample first?",
            "Blur with your Gaussian kernel (one channel at a time, groups=C, padding that keeps the size), then "
            "keep every scale-th pixel.",
            "Answer: blurred = F.conv2d(F.pad(img, (p, p, p, p), mode='reflect'), kernel.expand(C, 1, k, k), "
            "groups=C); return blurred[..., ::scale, ::scale]."),
    "2.1": ("Which standard do SR papers use? MATLAB's rgb2ycbcr, ITU-R BT.601 in studio range: black is not 0.",
            "The coefficients 65.481, 128.553, 24.966 and the offset 16 are on the 0-255 scale; your image is in "
            "[0, 1]. Keep the channel dimension, and do not round.",
            "Answer: (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255, then unsqueeze(0): shape (1, H, W)."),
    "2.2": ("Three steps: convert both images to Y, remove a border, compare.",
            "The border is `scale` pixels on every side of the last two axes (H, W): img[..., s:-s, s:-s]. The "
            "peak of a [0, 1] image is 1.",
            "Answer: a = rgb_to_y(sr_img)[..., s:-s, s:-s]; b = rgb_to_y(hr_img)[..., s:-s, s:-s]; "
            "return 10 * math.log10(1 / float(((a - b) ** 2).mean())) with s = scale."),
    "2.3": ("Write the expected MSE of an estimate e as a function of e, for one pixel: sum_k p_k (e - c_k)^2.",
            "Set its derivative with respect to e to zero and solve for e, using sum_k p_k = 1. Which statistic "
            "of the candidates comes out? (For |e - c_k| you would get a different one.)",
            "Answer: (probabilities.reshape(-1, 1, 1, 1) * candidates).sum(dim=0), the probability-weighted "
            "pixel-wise mean."),
    "3.1": ("The paper's block: conv-BN-PReLU-conv-BN, then add the block's input (fig. 4).",
            "3x3 convolutions with padding=1 keep the size; use new tensors (no in-place +=) so that the input "
            "stays intact.",
            "Answer: self.body = nn.Sequential(nn.Conv2d(F, F, 3, padding=1), nn.BatchNorm2d(F), nn.PReLU(), "
            "nn.Conv2d(F, F, 3, padding=1), nn.BatchNorm2d(F)); forward returns x + self.body(x)."),
    "3.2": ("(B, C r^2, H, W) -> (B, C, H r, W r): each output pixel comes from one of r^2 channels.",
            "Split the channels as (C, r, r), then move the two r axes next to H and W before the final reshape.",
            "Answer: x.reshape(B, C, r, r, H, W).permute(0, 1, 4, 2, 5, 3).reshape(B, C, H * r, W * r)."),
    "3.3": ("Count each layer kind: a conv has k*k*C_in*C_out weights plus C_out biases; BN has 2 per channel; "
            "PReLU one slope per layer.",
            "There are log2(scale) upsampling blocks, each a 3x3 conv from F to 4F channels; head and tail are 9x9.",
            "Answer: compare your sum with sum(p.numel() for p in srresnet.SRResNet(...).parameters())."),
    "4.1": ("torchvision's vgg19.features is a flat list: conv, ReLU, ..., with a MaxPool after each block.",
            "phi_i,j is the ReLU after the j-th conv of block i; every block before i contributes its convs, ReLUs "
            "and one pool.",
            "Answer: look up vgg.layer_index(i, j) or list vgg19().features and count from 0."),
    "4.2": ("Eq. 5 compares feature maps, not pixels, and the paper rescales VGG features by 1/12.75.",
            "The target's features are a constant (no gradient to hr_img); the SR features must keep their graph.",
            "Answer: f_sr = features(sr_img) / 12.75; f_hr = features(hr_img).detach() / 12.75; "
            "return ((f_sr - f_hr) ** 2).mean() (or the sum over channels / (W H) with the paper's convention)."),
    "5.1": ("D's loss is the binary cross-entropy of real images labelled 1 and fakes labelled 0, from logits.",
            "log(sigmoid(x)) = -softplus(-x) and log(1 - sigmoid(x)) = -softplus(x): no overflow.",
            "Answer: F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()."),
    "5.2": ("The non-saturating generator loss of eq. 6 is -log D(G(z)), not log(1 - D(G(z))).",
            "-log sigmoid(x) = softplus(-x), stable for large |x|.",
            "Answer: F.softplus(-fake_logits).mean()."),
    "6.1": ("D's step trains D only: nothing of it may reach G, and sr_img must keep its graph for G's step.",
            "Order: score hr_img and sr_img.detach() (a new tensor, not detach_()), the loss, zero_grad, "
            "backward, step.",
            "Answer: real = discriminator(hr_img); fake = discriminator(sr_img.detach()); loss = "
            "losses.discriminator_loss(real, fake); optimizer.zero_grad(); loss.backward(); optimizer.step(); "
            "return the loss and sigmoid(logits).mean() of each."),
    "6.2": ("G's step: D judges sr_img itself (the gradient must flow through D to G), but D's weights are not "
            "trained here.",
            "Freeze D with discriminator.requires_grad_(False) (not torch.no_grad(), which cuts the path to G, and "
            "not eval(), which only switches batch norm); unfreeze afterwards.",
            "Answer: discriminator.requires_grad_(False); adv = losses.generator_adversarial_loss(discriminator("
            "sr_img)); total = content_loss(sr_img, hr_img) + adversarial_weight * adv; optimizer.zero_grad(); "
            "total.backward(); optimizer.step(); discriminator.requires_grad_(True)."),
    "7.1": ("With a handful of ratings, the normal 1.96 is too narrow: use Student's t.",
            "The standard error is the sample standard deviation (ddof=1) divided by sqrt(n); t has n - 1 degrees "
            "of freedom, two-sided.",
            "Answer: mean +- scipy.stats.t.ppf((1 + confidence) / 2, n - 1) * std(ddof=1) / sqrt(n)."),
    "7.2": ("Compare every score of A with every score of B.",
            "A win counts 1, a tie 1/2; divide by the number of pairs n_A * n_B.",
            "Answer: sum((a > b) + 0.5 * (a == b) for a in A for b in B) / (len(A) * len(B))."),
}

_hints_given: dict[str, int] = {}


def hint(exercise: str) -> None:
    """Print the next hint for ``exercise`` ("2.3"): the first call a nudge, the last one the answer."""
    number = str(exercise).replace("Exercise", "").strip()
    if number not in HINTS:
        raise ValueError(f"no hints for exercise {exercise!r}; the exercises are {', '.join(HINTS)}")
    ladder = HINTS[number]
    level = min(_hints_given.get(number, 0), len(ladder) - 1)
    _hints_given[number] = level + 1
    more = " (call again for the next)" if level + 1 < len(ladder) else " (the last one)"
    print(f"Hint {level + 1} of {len(ladder)} for exercise {number}{more}: {ladder[level]}")
