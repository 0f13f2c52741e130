"""The exercise checks: the reference passes, typical wrong attempts fail with the mistake named.

Each exercise gets its reference implementation (the library's function where its signature
fits, else the solution the notebook shows) and at least two wrong implementations that learners
typically write; every wrong one must raise ``ExerciseError`` whose message names that mistake.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srgan_edu import checks, degradation, images, losses, metrics, mos, srresnet, training, vgg
from srgan_edu.checks import ExerciseError, _common


def _fails_with(check, attempt, *phrases):
    with pytest.raises(ExerciseError) as info:
        check(attempt)
    message = str(info.value)
    for phrase in phrases:
        assert phrase.lower() in message.lower(), f"{phrase!r} not in the message: {message}"
    return message


def _passes(check, attempt, capsys):
    check(attempt)
    assert "passed" in capsys.readouterr().out


# --- the machinery -------------------------------------------------------------------------------


def _not_implemented(*args, **kwargs):
    raise NotImplementedError()


class _NotImplementedBlock(nn.Module):
    def __init__(self, num_features):
        super().__init__()
        raise NotImplementedError()


ALL_CHECKS = [name for name in dir(checks) if name.startswith("check_")]


@pytest.mark.parametrize("name", ALL_CHECKS)
def test_a_stub_stops_with_not_implemented_error(name):
    check = getattr(checks, name)
    stub = _NotImplementedBlock if name == "check_residual_block" else _not_implemented
    with pytest.raises(NotImplementedError):
        check(stub)


def test_every_check_is_documented_with_what_it_recognises():
    for name in ALL_CHECKS:
        doc = getattr(checks, name).__doc__
        assert doc and "Recognises:" in doc and "Exercise" in doc, name


def test_an_error_in_the_learners_code_is_explained_and_chained():
    def broken(first, second):
        return first / "two"

    with pytest.raises(ExerciseError) as info:
        checks.check_probability_of_superiority(broken)
    assert "broken(" in str(info.value) and "TypeError" in str(info.value)
    assert isinstance(info.value.__cause__, TypeError)


def test_a_missing_return_is_named():
    def forgot_return(first, second):
        sum(a > b for a in first for b in second) / (len(first) * len(second))

    _fails_with(checks.check_probability_of_superiority, forgot_return, "returned None", "return")


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_residual_block(_Block)
    assert torch.equal(torch.rand(3), expected)


def test_exercise_error_is_an_assertion_error():
    assert issubclass(ExerciseError, AssertionError)


# --- 1.1 Gaussian kernel -------------------------------------------------------------------------


def _kernel(size, sigma, *, centre=None, denominator=None, normalise=True):
    x = torch.arange(size, dtype=torch.float64) - ((size - 1) / 2 if centre is None else centre)
    kernel = torch.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (denominator or 2 * sigma**2))
    return kernel / kernel.sum() if normalise else kernel


def test_gaussian_kernel_reference_passes(capsys):
    _passes(checks.check_gaussian_kernel, degradation.gaussian_kernel, capsys)
    _passes(checks.check_gaussian_kernel, lambda size, sigma: _kernel(size, sigma).float(), capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda size, sigma: _kernel(size, sigma, normalise=False), ["does not sum to 1"]),
        (lambda size, sigma: _kernel(size, sigma, normalise=False) / (2 * math.pi * sigma**2),
         ["continuous formula"]),
        (lambda size, sigma: _kernel(size, sigma, denominator=2 * sigma), ["standard deviation", "2 sigma^2"]),
        (lambda size, sigma: _kernel(size, sigma, denominator=sigma**2), ["factor 2 is missing"]),
        (lambda size, sigma: _kernel(size, sigma, centre=0), ["not centred"]),
        (lambda size, sigma: _kernel(size, sigma)[size // 2], ["1-D kernel", "outer product"]),
    ],
    ids=["unnormalised", "continuous-normalisation", "sigma-as-variance", "no-factor-2", "off-centre", "1d"],
)
def test_gaussian_kernel_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_gaussian_kernel, attempt, *phrases)


# --- 1.2 blur, then decimate ---------------------------------------------------------------------


def test_blur_then_decimate_reference_passes(capsys):
    _passes(checks.check_blur_then_decimate,
            lambda img, scale, sigma: degradation.degrade(img, scale, method="gaussian", sigma=sigma), capsys)
    _passes(checks.check_blur_then_decimate,
            lambda img, scale, sigma: degradation.gaussian_blur(img, sigma)[..., ::scale, ::scale], capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda img, scale, sigma: degradation.gaussian_blur(img[..., ::scale, ::scale], sigma),
         ["decimated before blurring"]),
        (lambda img, scale, sigma: img[..., ::scale, ::scale], ["no blur", "alias"]),
        (lambda img, scale, sigma: degradation.gaussian_blur(img, sigma)[..., scale // 2::scale, scale // 2::scale],
         ["wrong pixel", "::r"]),
        (lambda img, scale, sigma: degradation.degrade(img, scale, method="gaussian"), ["sigma argument"]),
        (lambda img, scale, sigma: F.avg_pool2d(img if img.dim() == 4 else img[None], scale).reshape(
            *img.shape[:-2], img.shape[-2] // scale, img.shape[-1] // scale), ["averaged r x r blocks"]),
        (lambda img, scale, sigma: F.interpolate(img[None] if img.dim() == 3 else img, scale_factor=0.5)[0],
         ["should give shape"]),
    ],
    ids=["swapped", "no-blur", "phase", "sigma-ignored", "box", "size"],
)
def test_blur_then_decimate_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_blur_then_decimate, attempt, *phrases)


# --- 2.1 the Y channel ---------------------------------------------------------------------------


def _luma(img, *, weights=(65.481, 128.553, 24.966), offset=16.0, scale=255.0, order=(0, 1, 2), keepdim=True):
    red, green, blue = (img[i] for i in order)
    y = (offset + weights[0] * red + weights[1] * green + weights[2] * blue) / scale
    return y.unsqueeze(0) if keepdim else y


def test_rgb_to_y_reference_passes(capsys):
    _passes(checks.check_rgb_to_y, images.rgb_to_y, capsys)
    _passes(checks.check_rgb_to_y, _luma, capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda img: _luma(img, offset=0.0), ["offset is missing"]),
        (lambda img: _luma(img, weights=(0.299, 0.587, 0.114), offset=0.0, scale=1.0), ["JPEG/Pillow"]),
        (lambda img: _luma(img, scale=1.0), ["0-255 scale"]),
        (lambda img: _luma(img, order=(2, 1, 0)), ["BGR"]),
        (lambda img: _luma(img, keepdim=False), ["keep the channel dimension"]),
    ],
    ids=["no-offset", "jpeg", "0-255", "bgr", "no-channel"],
)
def test_rgb_to_y_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_rgb_to_y, attempt, *phrases)


# --- 2.2 PSNR on Y with the shave ----------------------------------------------------------------


def _psnr(sr_img, hr_img, scale, *, y=True, shave=None, peak=1.0, bottom_right=True):
    shave = scale if shave is None else shave
    if y:
        sr_img, hr_img = images.rgb_to_y(sr_img), images.rgb_to_y(hr_img)
    end = -shave if (shave and bottom_right) else None
    sr_img, hr_img = sr_img[..., shave:end, shave:end], hr_img[..., shave:end, shave:end]
    return 10 * math.log10(peak**2 / float(((sr_img.double() - hr_img.double()) ** 2).mean()))


def test_psnr_y_reference_passes(capsys):
    _passes(checks.check_psnr_y, lambda sr, hr, scale: metrics.psnr(sr, hr, scale=scale), capsys)
    _passes(checks.check_psnr_y, _psnr, capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda sr, hr, scale: _psnr(sr, hr, scale, y=False), ["PSNR on RGB", "luma channel Y"]),
        (lambda sr, hr, scale: _psnr(sr, hr, scale, shave=0), ["forgot the shave"]),
        (lambda sr, hr, scale: _psnr(sr, hr, scale, peak=255.0), ["peak value is 1", "48.1 dB"]),
        (lambda sr, hr, scale: _psnr(sr, hr, scale, bottom_right=False), ["only the top and left"]),
        (lambda sr, hr, scale: _psnr(sr, hr, scale, shave=2 * scale), ["2 * scale"]),
        (lambda sr, hr, scale: 2 * _psnr(sr, hr, scale), ["20 log10 with the MSE"]),
    ],
    ids=["rgb", "no-shave", "peak-255", "one-sided-shave", "double-shave", "20log10-mse"],
)
def test_psnr_y_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_psnr_y, attempt, *phrases)


# --- 2.3 the MSE-optimal guess -------------------------------------------------------------------


def _weighted(candidates, probabilities):
    return (probabilities.reshape(-1, 1, 1, 1) * candidates).sum(dim=0)


def test_mse_best_guess_reference_passes(capsys):
    _passes(checks.check_mse_best_guess, _weighted, capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda c, p: c.mean(dim=0), ["ignored the probabilities"]),
        (lambda c, p: c.median(dim=0).values, ["median", "absolute"]),
        (lambda c, p: c[0], ["most probable candidate"]),
        (lambda c, p: c[2], ["returned candidate 2", "blurrier"]),
        (lambda c, p: c.mean(dim=1), ["combine the candidates along dimension 0"]),
        (lambda c, p: c.amax(dim=0), ["best possible", "largest difference"]),
    ],
    ids=["unweighted", "median", "most-probable", "one-candidate", "wrong-dim", "max"],
)
def test_mse_best_guess_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_mse_best_guess, attempt, *phrases)


# --- 3.1 residual block --------------------------------------------------------------------------


class _Block(nn.Module):
    def __init__(self, num_features, activation=None, padding=1, batch_norm=True, res_scale=1.0, scaling="branch"):
        super().__init__()
        self.res_scale, self.scaling = res_scale, scaling
        self.conv1 = nn.Conv2d(num_features, num_features, 3, padding=padding)
        self.bn1 = nn.BatchNorm2d(num_features) if batch_norm else nn.Identity()
        self.prelu = activation or nn.PReLU(num_features)
        self.conv2 = nn.Conv2d(num_features, num_features, 3, padding=padding)
        self.bn2 = nn.BatchNorm2d(num_features) if batch_norm else nn.Identity()

    def residual(self, features):
        return self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(features)))))

    def forward(self, features):
        if self.scaling == "sum":
            return self.res_scale * (features + self.residual(features))
        if self.scaling == "input":
            return self.res_scale * features + self.residual(features)
        if self.scaling == "ignored":
            return features + self.residual(features)
        return features + self.res_scale * self.residual(features)


class _NoSkip(_Block):
    def forward(self, features):
        return self.residual(features)


class _ActivationAfterSum(_Block):
    def forward(self, features):
        return self.prelu(features + self.residual(features))


class _SkipFromFirstConv(_Block):
    def forward(self, features):
        first = self.conv1(features)
        return first + self.bn2(self.conv2(self.prelu(self.bn1(first))))


class _InPlace(_Block):
    def forward(self, features):
        features += self.residual(features.clone())
        return features


def test_residual_block_reference_passes(capsys):
    _passes(checks.check_residual_block, _Block, capsys)
    # One shared PReLU slope is fine too.
    _passes(checks.check_residual_block, lambda n, res_scale=1.0: _Block(n, activation=nn.PReLU(), res_scale=res_scale),
            capsys)


def test_residual_block_without_res_scale_is_told_to_add_it():
    _fails_with(checks.check_residual_block, srresnet.ResidualBlock, "no res_scale argument")


@pytest.mark.parametrize(
    "scaling, phrases",
    [("ignored", ["argument is ignored"]), ("sum", ["whole sum"]), ("input", ["scaled the input"])],
)
def test_residual_scaling_mistakes_are_named(scaling, phrases):
    _fails_with(checks.check_residual_block, lambda n, res_scale=1.0: _Block(n, res_scale=res_scale, scaling=scaling),
                *phrases)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (_NoSkip, ["forgot the skip connection", "features + residual"]),
        (lambda n: _Block(n, activation=nn.ReLU()), ["uses ReLU", "PReLU"]),
        (_ActivationAfterSum, ["activation after the last BN", "no activation after it"]),
        (lambda n: _Block(n, batch_norm=False), ["no batch normalisation"]),
        (lambda n: _Block(n, padding=0), ["padding=1"]),
        (_SkipFromFirstConv, ["does not return its input"]),
        (_InPlace, ["in place"]),
    ],
    ids=["no-skip", "relu", "activation-after-sum", "no-bn", "no-padding", "skip-from-conv", "in-place"],
)
def test_residual_block_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_residual_block, attempt, *phrases)


# --- 3.2 pixel unshuffle ------------------------------------------------------------------------


def _unshuffle(img, factor):
    batch, channels, height, width = img.shape
    r = factor
    return (img.view(batch, channels, height // r, r, width // r, r).permute(0, 1, 3, 5, 2, 4)
            .reshape(batch, channels * r * r, height // r, width // r))


def _regroup(view, order):
    def attempt(img, r):
        b, c, h, w = img.shape
        dims = {"B": b, "C": c, "H": h // r, "W": w // r, "r": r}
        return img.reshape(*[dims[d] for d in view]).permute(*order).reshape(b, c * r * r, h // r, w // r)
    return attempt


def test_pixel_unshuffle_reference_passes_and_inverts_pixel_shuffle(capsys):
    _passes(checks.check_pixel_unshuffle, _unshuffle, capsys)
    features = torch.rand(2, 12, 3, 5)
    assert torch.equal(_unshuffle(F.pixel_shuffle(features, 2), 2), features)


def test_pixel_unshuffle_named_in_a_comment_is_fine(capsys):
    def commented(img, factor):
        """Does what F.pixel_unshuffle(img, factor) does."""
        # not torch.pixel_unshuffle(img, factor): view and permute instead
        return _unshuffle(img, factor)

    _passes(checks.check_pixel_unshuffle, commented, capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda img, r: img.reshape(img.shape[0], -1, img.shape[2] // r, img.shape[3] // r), ["without permuting"]),
        (_regroup("BCHrWr", (0, 3, 5, 1, 2, 4)), ["grouped as (i, j, c)"]),
        (_regroup("BCHrWr", (0, 1, 5, 3, 2, 4)), ["offsets are swapped"]),
        (_regroup("BCrHrW", (0, 1, 2, 4, 3, 5)), ["tiles"]),
        (lambda img, r: _unshuffle(img, r).detach(), ["no gradient"]),
        (lambda img, r: F.pixel_unshuffle(img, r), ["calls PyTorch's pixel_unshuffle", "view/reshape and permute"]),
        (lambda img, r: img[..., ::r, ::r], ["should give shape"]),
        (lambda img, r: _unshuffle(img, r).flip(1), ["should be input pixel", "yours holds", "permute"]),
    ],
    ids=["no-permute", "channels-last-groups", "swapped-offsets", "tiles", "detached", "library", "shape",
         "unknown"],
)
def test_pixel_unshuffle_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_pixel_unshuffle, attempt, *phrases)


def test_pixel_unshuffle_changing_its_input_is_named():
    def in_place(img, r):
        out = _unshuffle(img, r).clone()
        img.data.zero_()
        return out

    _fails_with(checks.check_pixel_unshuffle, in_place, "in place")


# --- 3.3 parameter count -------------------------------------------------------------------------


def _count(*, num_features, num_blocks, scale):
    f = num_features
    block = 2 * (9 * f * f + f) + 4 * f + f
    upsample = 36 * f * f + 4 * f + f
    return 243 * f + 2 * f + num_blocks * block + 9 * f * f + 3 * f + int(math.log2(scale)) * upsample + 243 * f + 3


def test_parameter_count_reference_passes(capsys):
    def by_counting(*, num_features, num_blocks, scale):
        model = srresnet.SRResNet(num_features=num_features, num_blocks=num_blocks, scale=scale)
        return srresnet.count_parameters(model)

    _passes(checks.check_parameter_count, by_counting, capsys)
    _passes(checks.check_parameter_count, _count, capsys)


def _without(amount):
    def attempt(*, num_features, num_blocks, scale):
        return _count(num_features=num_features, num_blocks=num_blocks, scale=scale) - amount(
            num_features, num_blocks, int(math.log2(scale)))
    return attempt


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (_without(lambda f, b, u: f + 2 * b * f + f + u * 4 * f + 3), ["forgot the biases"]),
        (_without(lambda f, b, u: 2 * f * (2 * b + 1)), ["batch-norm parameters"]),
        (_without(lambda f, b, u: (1 + b + u) * (f - 1)), ["one slope per feature map"]),
        (_without(lambda f, b, u: u * (27 * f * f + 3 * f)), ["4 * num_features"]),
        (_without(lambda f, b, u: -(2 ** u - u) * (36 * f * f + 5 * f)), ["per factor of two"]),
    ],
    ids=["no-bias", "no-bn", "scalar-prelu", "upsample-conv", "upsample-count"],
)
def test_parameter_count_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_parameter_count, attempt, "1,550,659", *phrases)


# --- 4.1 phi_i,j in VGG19 ------------------------------------------------------------------------


def test_vgg_layer_index_reference_passes(capsys):
    _passes(checks.check_vgg_layer_index, lambda i, j: vgg.LAYER_INDICES[f"relu{i}_{j}"], capsys)

    def by_hand(i, j):
        return sum(2 * n + 1 for n in checks.CONVS_PER_BLOCK[: i - 1]) + 2 * (j - 1) + 1

    _passes(checks.check_vgg_layer_index, by_hand, capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda i, j: vgg.LAYER_INDICES[f"conv{i}_{j}"], ["convolution's index", "after the activation"]),
        (lambda i, j: vgg.LAYER_INDICES[f"relu{i}_{j}"] + 1, ["count from 0"]),
        (lambda i, j: vgg.LAYER_INDICES[f"relu{i}_{j}"] - (i - 1), ["forgot the max-pooling layers"]),
        (lambda i, j: sum(checks.CONVS_PER_BLOCK[: i - 1]) + j - 1, ["counted convolutions only"]),
    ],
    ids=["conv-index", "one-based", "no-pools", "convs-only"],
)
def test_vgg_layer_index_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_vgg_layer_index, attempt, "phi_", *phrases)


# --- 4.2 VGG content loss ------------------------------------------------------------------------


def _content(phi, sr_img, hr_img, rescale=1 / 12.75):
    with torch.no_grad():
        hr_features = phi(hr_img) * rescale
    return F.mse_loss(phi(sr_img) * rescale, hr_features)


def test_vgg_content_loss_reference_passes(capsys):
    _passes(checks.check_vgg_content_loss, _content, capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda phi, sr, hr, rescale: F.mse_loss(sr, hr), ["pixels", "feature maps"]),
        (lambda phi, sr, hr, rescale: F.mse_loss(phi(sr), phi(hr).detach()), ["forgot the rescaling"]),
        (lambda phi, sr, hr, rescale: F.mse_loss(phi(sr), phi(hr).detach()) * rescale, ["rescale^2"]),
        (lambda phi, sr, hr, rescale: ((phi(sr) - phi(hr).detach()) * rescale).pow(2).sum(), ["summed"]),
        (lambda phi, sr, hr, rescale: F.mse_loss(phi(sr).detach() * rescale, phi(hr) * rescale),
         ["detached the wrong tensor"]),
        (lambda phi, sr, hr, rescale: F.mse_loss(phi(sr) * rescale, phi(hr) * rescale), ["hr_img", "constant"]),
        (lambda phi, sr, hr, rescale: _content(phi, sr, hr, rescale).item(), ["no gradient"]),
    ],
    ids=["pixels", "no-rescale", "rescale-once", "sum", "detached-sr", "hr-not-detached", "item"],
)
def test_vgg_content_loss_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_vgg_content_loss, attempt, *phrases)


def test_vgg_layer_index_one_wrong_layer_names_no_mistake():
    def one_off(i, j):
        return vgg.LAYER_INDICES[f"relu{i}_{j}"] + (1 if (i, j) == (3, 2) else 0)

    message = _fails_with(checks.check_vgg_layer_index, one_off, "phi_3,2: 14 instead of 13", "conv, ReLU")
    assert "count from 0" not in message and "phi_1,1" not in message


def test_vgg_layer_index_shows_digits_that_differ():
    _fails_with(checks.check_vgg_layer_index, lambda i, j: vgg.LAYER_INDICES[f"relu{i}_{j}"] + 0.5,
                "phi_1,1: 1.5 instead of 1")


def test_vgg_content_loss_unknown_mistake_shows_digits_that_differ_and_the_gap():
    message = _fails_with(checks.check_vgg_content_loss, lambda *a, **k: _content(*a, **k) * 1.003,
                          "none of the usual mistakes", "relative, too high")
    got, expected = re.search(r"you give (\S+), expected (\S+) ", message).groups()
    assert got != expected
    for named in ("pixels", "forgot the rescaling", "summed", "valid convention"):
        assert named not in message


def test_vgg_content_loss_gradient_tolerance_is_relative_to_the_largest_as_stated(capsys):
    def gradient_scaled(factor):
        def loss(phi, sr_img, hr_img, rescale=1 / 12.75):
            value = _content(phi, sr_img, hr_img, rescale)
            return value * factor - (value * (factor - 1)).detach()  # the same value, the gradient times factor
        return loss

    _passes(checks.check_vgg_content_loss, gradient_scaled(1 + 0.9e-3), capsys)
    _fails_with(checks.check_vgg_content_loss, gradient_scaled(1 + 1.1e-3), "gradient with respect to sr_img",
                "the largest difference is at [b, c, y, x]")


def test_vgg_content_loss_input_changed_in_place_is_named():
    def clamps_target(phi, sr_img, hr_img, rescale=1 / 12.75):
        with torch.no_grad():
            hr_img.clamp_(-0.5, 0.5)
        return _content(phi, sr_img, hr_img, rescale)

    _fails_with(checks.check_vgg_content_loss, clamps_target, "changed its input hr_img in place")


# --- 5.1 / 5.2 adversarial losses ----------------------------------------------------------------


def test_adversarial_loss_references_pass(capsys):
    _passes(checks.check_discriminator_loss, losses.discriminator_loss, capsys)
    _passes(checks.check_discriminator_loss, lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(), capsys)
    _passes(checks.check_generator_adversarial_loss, losses.generator_adversarial_loss, capsys)
    _passes(checks.check_generator_adversarial_loss, lambda f: F.softplus(-f).mean(), capsys)


def _bce(logits, label):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda r, f: _bce(torch.sigmoid(r), 1.0) + _bce(torch.sigmoid(f), 0.0), ["sigmoid applied twice"]),
        (lambda r, f: _bce(r, 0.0) + _bce(f, 1.0), ["labels are swapped"]),
        (lambda r, f: -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean()),
         ["overflows", "softplus"]),
        (lambda r, f: -(torch.log(torch.sigmoid(r) + 1e-8).mean() + torch.log(1 - torch.sigmoid(f) + 1e-8).mean()),
         ["caps the loss"]),
        (lambda r, f: (_bce(r, 1.0) + _bce(f, 0.0)) / 2, ["averaged the two terms"]),
        (lambda r, f: -(_bce(r, 1.0) + _bce(f, 0.0)), ["sign is flipped"]),
        (lambda r, f: F.softplus(-r).sum() + F.softplus(f).sum(), ["summed over the batch"]),
        (lambda r, f: (_bce(r, 1.0) + _bce(f, 0.0)).detach(), ["no gradient"]),
    ],
    ids=["sigmoid-twice", "swapped", "unstable", "epsilon", "halved", "sign", "sum", "detached"],
)
def test_discriminator_loss_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_discriminator_loss, attempt, *phrases)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda f: torch.log(1 - torch.sigmoid(f)).mean(), ["saturating form"]),
        (lambda f: _bce(f, 0.0), ["labelled the generator's outputs as fake"]),
        (lambda f: -_bce(f, 1.0), ["sign is flipped"]),
        (lambda f: _bce(torch.sigmoid(f), 1.0), ["sigmoid applied twice"]),
        (lambda f: -torch.log(torch.sigmoid(f)).mean(), ["overflows"]),
        (lambda f: _bce(f, 1.0).detach().item(), ["no gradient"]),
    ],
    ids=["saturating", "fake-label", "sign", "sigmoid-twice", "unstable", "float"],
)
def test_generator_adversarial_loss_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_generator_adversarial_loss, attempt, *phrases)


# --- 6.1 / 6.2 one step of each network ----------------------------------------------------------


def _d_step(discriminator, optimizer, hr_img, sr_img, real_label=1.0, *, detach=True, zero_grad=True, step=True,
            probabilities=True, joint=False, smoothing="one_sided"):
    if joint:
        logits = discriminator(torch.cat([hr_img, sr_img.detach()]))
        real_logits, fake_logits = logits[: len(hr_img)], logits[len(hr_img):]
    else:
        real_logits = discriminator(hr_img)
        fake_logits = discriminator(sr_img.detach() if detach else sr_img)
    if real_label == 1.0 or smoothing == "ignored":
        loss = losses.discriminator_loss(real_logits, fake_logits)
    elif smoothing == "scaled":
        loss = real_label * F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    else:
        fake_label = 1 - real_label if smoothing == "two_sided" else 0.0
        loss = (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, fake_label)))
    if zero_grad:
        optimizer.zero_grad()
    loss.backward()
    if step:
        optimizer.step()
    summary = torch.sigmoid if probabilities else (lambda logits: logits)
    return {"discriminator_loss": loss.detach(), "d_real": summary(real_logits.detach()).mean(),
            "d_fake": summary(fake_logits.detach()).mean()}


def test_discriminator_step_reference_passes(capsys):
    _passes(checks.check_discriminator_step, _d_step, capsys)


def test_discriminator_step_without_real_label_is_told_to_add_it():
    _fails_with(checks.check_discriminator_step, training.discriminator_step, "no real_label argument")


@pytest.mark.parametrize(
    "smoothing, phrases",
    [("ignored", ["argument is ignored"]), ("two_sided", ["both labels", "one-sided"]), ("scaled", ["multiplied"])],
)
def test_discriminator_step_label_smoothing_mistakes_are_named(smoothing, phrases):
    def attempt(discriminator, optimizer, hr_img, sr_img, real_label=1.0):
        return _d_step(discriminator, optimizer, hr_img, sr_img, real_label, smoothing=smoothing)

    _fails_with(checks.check_discriminator_step, attempt, *phrases)


@pytest.mark.parametrize(
    "changes, phrases",
    [
        ({"detach": False}, ["forgot to detach sr_img"]),
        ({"zero_grad": False}, ["zero_grad is missing"]),
        ({"step": False}, ["optimizer.step()"]),
        ({"probabilities": False}, ["sigmoid(logits).mean()"]),
        ({"joint": True}, ["in one batch", "batch norm"]),
    ],
    ids=["not-detached", "no-zero-grad", "no-step", "logits", "joint-batch"],
)
def test_discriminator_step_mistakes_are_named(changes, phrases):
    _fails_with(checks.check_discriminator_step, lambda *args: _d_step(*args, **changes), *phrases)


def test_discriminator_step_before_backward_is_explained():
    def step_first(discriminator, optimizer, hr_img, sr_img):
        loss = losses.discriminator_loss(discriminator(hr_img), discriminator(sr_img.detach()))
        optimizer.step()
        optimizer.zero_grad()
        loss.backward()
        return {}

    _fails_with(checks.check_discriminator_step, step_first, "optimizer.step() ran before loss.backward()")


def test_discriminator_step_swapped_labels_are_named():
    def swapped(discriminator, optimizer, hr_img, sr_img):
        loss = losses.discriminator_loss(discriminator(sr_img.detach()), discriminator(hr_img))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {}

    _fails_with(checks.check_discriminator_step, swapped, "labels are swapped")


def _g_step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight=1e-3, relativistic=False, *,
            freeze=True, unfreeze=True, detach=False, weight=None, saturating=False, zero_grad=True, ra="right"):
    if freeze:
        discriminator.requires_grad_(False)
    fake_logits = discriminator(sr_img.detach() if detach else sr_img)
    content = content_loss(sr_img, hr_img)
    adversarial = (-F.softplus(fake_logits).mean() if saturating
                   else losses.generator_adversarial_loss(fake_logits))
    if relativistic and ra != "ignored":
        real_logits = discriminator(hr_img)
        real_relative, fake_relative = real_logits - fake_logits.mean(), fake_logits - real_logits.mean()
        adversarial = (losses.discriminator_loss(real_relative, fake_relative) if ra == "unswapped"
                       else losses.generator_adversarial_loss(fake_relative) if ra == "fake_only"
                       else losses.discriminator_loss(fake_relative, real_logits - fake_logits.mean().detach())
                       if ra == "fake_mean_detached"
                       else losses.discriminator_loss(fake_logits - fake_logits.mean(), real_logits - real_logits.mean())
                       if ra == "own_means"
                       else 2 * losses.discriminator_loss(fake_relative, real_relative) if ra == "doubled"
                       else losses.discriminator_loss(fake_relative, real_relative))
    total = content + (adversarial_weight if weight is None else weight) * adversarial
    if unfreeze:
        discriminator.requires_grad_(True)
    if zero_grad:
        optimizer.zero_grad()
    total.backward()
    optimizer.step()
    return {"generator_loss": total.detach(), "content_loss": content.detach(),
            "adversarial_loss": adversarial.detach()}


def test_generator_step_without_discriminator_is_named():
    def content_only(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight=1e-3):
        loss = content_loss(sr_img, hr_img)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {}

    _fails_with(checks.check_generator_step, content_only, "adversarial term is missing", "never judged")


def test_generator_step_reference_passes(capsys):
    def library(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight=1e-3):
        perceptual_loss = losses.PerceptualLoss(content_loss, adversarial_weight)
        return training.generator_step(discriminator, optimizer, sr_img, hr_img, perceptual_loss)

    _passes(checks.check_generator_step, _g_step, capsys)
    _fails_with(checks.check_generator_step, library, "right for the paper's l_Gen", "no relativistic argument")


@pytest.mark.parametrize(
    "ra, phrases",
    [
        ("ignored", ["argument is ignored"]),
        ("unswapped", ["D's relativistic loss", "swaps the roles"]),
        ("fake_only", ["HR crops' term sends G no gradient"]),
        ("fake_mean_detached", ["HR crops' term sends G no gradient", "detached"]),
        ("own_means", ["own mean"]),
    ],
)
def test_generator_step_relativistic_mistakes_are_named(ra, phrases):
    def attempt(*args, adversarial_weight=1e-3, relativistic=False):
        return _g_step(*args, adversarial_weight=adversarial_weight, relativistic=relativistic, ra=ra)

    _fails_with(checks.check_generator_step, attempt, *phrases)


def test_generator_step_relativistic_unknown_mistake_names_none():
    def doubled(*args, adversarial_weight=1e-3, relativistic=False):
        return _g_step(*args, adversarial_weight=adversarial_weight, relativistic=relativistic, ra="doubled")

    message = _fails_with(checks.check_generator_step, doubled, "differ from the relativistic step's by", "%")
    for named in ("ignored", "own mean", "swaps the roles", "no gradient", "one batch"):
        assert named not in message


def test_generator_step_relativistic_joint_batch_is_named():
    def joint(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight=1e-3, relativistic=False):
        if not relativistic:
            return _g_step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight)
        discriminator.requires_grad_(False)
        logits = discriminator(torch.cat([hr_img, sr_img]))
        real_logits, fake_logits = logits[: len(hr_img)], logits[len(hr_img):]
        adversarial = losses.discriminator_loss(fake_logits - real_logits.mean(), real_logits - fake_logits.mean())
        total = content_loss(sr_img, hr_img) + adversarial_weight * adversarial
        discriminator.requires_grad_(True)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        return {}

    _fails_with(checks.check_generator_step, joint, "in one batch", "batch norm")


def test_generator_step_relativistic_values_are_checked_with_digits_that_differ():
    def weighted_report(*args, adversarial_weight=1e-3, relativistic=False):
        result = _g_step(*args, adversarial_weight=adversarial_weight, relativistic=relativistic)
        if relativistic:
            result["adversarial_loss"] = result["adversarial_loss"] * adversarial_weight
        return result

    message = _fails_with(checks.check_generator_step, weighted_report, "relativistic=True adversarial_loss is",
                          "before it is multiplied by the weight")
    got, expected = re.search(r"is (\S+), expected (\S+?)[:.]? ", message).groups()
    assert got != expected


def test_generator_step_relativistic_value_tolerance_is_relative_as_stated():
    def scaled(factor):
        def step(*args, adversarial_weight=1e-3, relativistic=False):
            result = _g_step(*args, adversarial_weight=adversarial_weight, relativistic=relativistic)
            if relativistic:
                result["adversarial_loss"] = result["adversarial_loss"] * factor
            return result
        return step

    checks.check_generator_step(scaled(1 + 0.9e-4))
    _fails_with(checks.check_generator_step, scaled(1 + 1.1e-4), "adversarial_loss is")


def test_generator_step_changing_hr_img_in_place_is_named():
    def in_place(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight=1e-3, relativistic=False):
        result = _g_step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight, relativistic)
        hr_img.mul_(0.5)
        return result

    _fails_with(checks.check_generator_step, in_place, "changed hr_img in place")


@pytest.mark.parametrize(
    "changes, phrases",
    [
        ({"detach": True}, ["detached the wrong tensor"]),
        ({"saturating": True}, ["saturating form"]),
        ({"weight": 1.0}, ["not weighted"]),
        ({"weight": 1e-3}, ["instead of using the adversarial_weight argument"]),
        ({"weight": 0.0}, ["adversarial term has no effect"]),
        ({"zero_grad": False}, ["zero_grad is missing"]),
        ({"freeze": False}, ["collected gradients", "requires_grad_(False)"]),
        ({"unfreeze": False}, ["still frozen"]),
    ],
    ids=["detached", "saturating", "unweighted", "hard-coded-weight", "no-adversarial", "no-zero-grad",
         "d-not-frozen", "d-left-frozen"],
)
def test_generator_step_mistakes_are_named(changes, phrases):
    def attempt(*args, adversarial_weight=1e-3):
        return _g_step(*args, adversarial_weight=adversarial_weight, **changes)

    _fails_with(checks.check_generator_step, attempt, *phrases)


# --- 7.1 / 7.2 MOS -------------------------------------------------------------------------------


def _interval(scores, confidence=0.95, quantile=None, ddof=1, divide=math.sqrt):
    n = len(scores)
    mean = sum(scores) / n
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - ddof))
    t = quantile(confidence, n) if quantile else mos.t_quantile((1 + confidence) / 2, n - 1)
    half = t * std / divide(n)
    return mean, mean - half, mean + half


def test_mos_interval_reference_passes(capsys):
    _passes(checks.check_mos_interval, mos.mean_confidence_interval, capsys)
    _passes(checks.check_mos_interval, _interval, capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda s, confidence=0.95: _interval(s, confidence, quantile=lambda c, n: 1.959963984540054),
         ["normal quantile", "Student's t"]),
        (lambda s, confidence=0.95: _interval(s, confidence, ddof=0), ["population standard deviation"]),
        (lambda s, confidence=0.95: _interval(s, confidence, divide=lambda n: 1),
         ["divide the standard deviation by sqrt(n)"]),
        (lambda s, confidence=0.95: _interval(s, confidence, quantile=lambda c, n: mos.t_quantile((1 + c) / 2, n)),
         ["n degrees of freedom"]),
        (lambda s, confidence=0.95: _interval(s, confidence, quantile=lambda c, n: mos.t_quantile(c, n - 1)),
         ["one-sided"]),
        (lambda s, confidence=0.95: _interval(s, confidence, divide=lambda n: n),
         ["divided the standard deviation by n"]),
    ],
    ids=["normal", "ddof0", "no-sqrt-n", "n-dof", "one-sided", "divide-by-n"],
)
def test_mos_interval_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_mos_interval, attempt, *phrases)


def _superiority(first, second, tie=0.5):
    wins = sum(1.0 if a > b else tie if a == b else 0.0 for a in first for b in second)
    return wins / (len(first) * len(second))


def test_superiority_reference_passes(capsys):
    _passes(checks.check_probability_of_superiority, lambda a, b: mos.mann_whitney_u(a, b).superiority, capsys)
    _passes(checks.check_probability_of_superiority, _superiority, capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda a, b: _superiority(a, b, tie=0.0), ["ties are not counted"]),
        (lambda a, b: _superiority(a, b, tie=1.0), ["ties are counted as wins"]),
        (lambda a, b: _superiority(b, a), ["groups are swapped"]),
        (lambda a, b: _superiority(a, b) * len(a) * len(b) / (len(a) + len(b)), ["n1 * n2"]),
    ],
    ids=["ties-zero", "ties-one", "swapped", "n1-plus-n2"],
)
def test_superiority_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_probability_of_superiority, attempt, *phrases)


# --- issue 14: the short block, the hint ladder, no misdiagnosis -----------------------------------


def test_a_failure_renders_as_one_short_block_without_library_lines():
    def broken(candidates):
        return candidates[99]

    with pytest.raises(ExerciseError) as info:
        checks.check_mse_best_guess(lambda candidates, probabilities: broken(candidates))
    block = info.value._render_traceback_()
    assert block[0].startswith("\u2717 Exercise 2.3")
    assert len(block) <= 12
    text = "\n".join(block)
    assert "in broken" in text and "srgan_edu/checks" not in text


def test_a_failure_without_learner_frames_is_the_message_alone():
    with pytest.raises(ExerciseError) as info:
        checks.check_mse_best_guess(lambda candidates, probabilities: candidates[0] + 1)
    assert "in your code" not in "\n".join(info.value._render_traceback_())


def test_the_hint_ladder_climbs_to_the_answer_and_stays_there(capsys, monkeypatch):
    monkeypatch.setattr(checks.hints, "_hints_given", {})
    for _ in range(4):
        checks.hint("2.3")
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("Hint 1 of 3") and "mean" not in lines[0].lower()
    assert lines[1].startswith("Hint 2 of 3")
    assert lines[2].startswith("Hint 3 of 3") and "pixel-wise mean" in lines[2]
    assert lines[3] == lines[2]
    with pytest.raises(ValueError, match="no hints"):
        checks.hint("9.9")


def test_every_exercise_has_a_hint_ladder_ending_in_the_answer():
    names = {_common._number(getattr(checks, name)) for name in dir(checks)
             if name.isupper() and isinstance(getattr(checks, name), str) and getattr(checks, name).startswith("Exercise")}
    assert names == set(checks.HINTS)
    for ladder in checks.HINTS.values():
        assert len(ladder) >= 2 and ladder[-1].startswith("Answer")


@pytest.mark.parametrize(
    "attempt",
    [lambda c, p: c.median(dim=0).values, lambda c, p: c[0], lambda c, p: c.mean(dim=0),
     lambda c, p: c.amax(dim=0), lambda c, p: _weighted(c, p) + 1e-3],
    ids=["median", "one-candidate", "unweighted", "max", "near-miss"],
)
def test_mse_best_guess_failures_point_to_the_hint_and_never_name_the_mean(attempt):
    message = _fails_with(checks.check_mse_best_guess, attempt, 'checks.hint("2.3")')
    assert "weighted mean" not in message and "pixel-wise mean" not in message


def test_mse_best_guess_near_miss_shows_digits_that_differ_and_the_largest_gap():
    message = _fails_with(checks.check_mse_best_guess, lambda c, p: _weighted(c, p) + 1e-3, "largest difference",
                          "[c, y, x]")
    got, best = message.split("expected MSE of ")[1].split(" over")[0], message.split("best possible is ")[1].split(" ")[0]
    assert got != best


def test_rgb_to_y_rounded_to_8_bits_is_named():
    def rounded(img):
        r, g, b = img
        return torch.round((16 + 65.481 * r + 128.553 * g + 24.966 * b)).unsqueeze(0) / 255

    _fails_with(checks.check_rgb_to_y, rounded, "rounded", "8-bit")


def test_rgb_to_y_unknown_mistake_shows_the_largest_gap():
    def off(img):
        y = images.rgb_to_y(img).clone()
        y[0, 3, 4] += 0.01
        return y

    _fails_with(checks.check_rgb_to_y, off, "largest difference", "(0, 3, 4)")


def _psnr_on_y(sr_img, hr_img, shave, y=images.rgb_to_y):
    a, b = y(sr_img), y(hr_img)
    a, b = a[..., shave:-shave, shave:-shave], b[..., shave:-shave, shave:-shave]
    return 10 * math.log10(1 / float(((a - b) ** 2).mean()))


def test_psnr_y_hard_coded_shave_of_4_is_named_as_such():
    message = _fails_with(checks.check_psnr_y, lambda sr, hr, scale: _psnr_on_y(sr, hr, 4), "shaved 4 pixels",
                          "scale argument")
    assert "2 * scale" not in message


def test_psnr_y_nan_from_slicing_the_channel_axis_is_named():
    def channel_slice(sr_img, hr_img, scale):
        a, b = images.rgb_to_y(sr_img)[scale:-scale, scale:-scale], images.rgb_to_y(hr_img)[scale:-scale, scale:-scale]
        return 10 * math.log10(1 / float(((a - b) ** 2).mean())) if a.numel() else float("nan")

    _fails_with(checks.check_psnr_y, channel_slice, "NaN", "channel axis")


def rgb_to_y(img):  # a learner's broken exercise 2.1 (BGR order), seen by psnr_built_on_it
    b, g, r = img
    return ((16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255).unsqueeze(0)


def psnr_built_on_it(sr_img, hr_img, scale):
    return _psnr_on_y(sr_img, hr_img, scale, y=rgb_to_y)


def test_psnr_y_on_a_broken_earlier_exercise_blames_exercise_2_1():
    _fails_with(checks.check_psnr_y, psnr_built_on_it, "exercise 2.1", "fix exercise 2.1 first")


def test_psnr_y_tolerance_is_what_it_says():
    checks.check_psnr_y(lambda sr, hr, scale: metrics.psnr(sr, hr, scale=scale) + 0.9e-4)
    _fails_with(checks.check_psnr_y, lambda sr, hr, scale: metrics.psnr(sr, hr, scale=scale) + 1.1e-4, "you gave")


def test_an_optimiser_is_described_in_one_line():
    optimiser = torch.optim.Adam(nn.Linear(2, 2).parameters(), lr=1e-4)
    assert _common._describe(optimiser) == "Adam(lr=0.0001)"


def _d_step_variant(kind):
    def step(discriminator, optimizer, hr_img, sr_img):
        if kind == "detach_in_place":
            fake = sr_img.detach_()
        else:
            fake = sr_img.detach()
        real_logits, fake_logits = discriminator(hr_img), discriminator(fake)
        if kind == "probabilities":
            real_logits, fake_logits = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
        loss = losses.discriminator_loss(real_logits, fake_logits)
        if kind == "backward_zero_step":
            loss.backward()
            optimizer.zero_grad()
            optimizer.step()
        else:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if kind == "hr_in_place":
            hr_img.mul_(1.0001)
        return {"discriminator_loss": loss.detach(), "d_real": torch.sigmoid(real_logits.detach()).mean(),
                "d_fake": torch.sigmoid(fake_logits.detach()).mean()}

    return step


@pytest.mark.parametrize(
    "kind, phrases",
    [
        ("detach_in_place", ["lost its graph", "detach_()"]),
        ("backward_zero_step", ["zero_grad() ran between backward() and step()"]),
        ("probabilities", ["probabilities", "logits"]),
        ("hr_in_place", ["changed hr_img in place"]),
    ],
    ids=["detach-in-place", "backward-zero-grad-step", "probabilities", "hr-in-place"],
)
def test_discriminator_step_issue_14_mistakes_are_named(kind, phrases):
    _fails_with(checks.check_discriminator_step, _d_step_variant(kind), *phrases)


def _g_step_variant(kind):
    def step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight=1e-3, relativistic=False):
        if relativistic:  # the variation's part is right in every variant
            return _g_step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight, True)
        if kind == "eval":
            discriminator.eval()
        elif kind != "freeze_late":
            discriminator.requires_grad_(False)
        if kind == "no_grad":
            with torch.no_grad():
                fake_logits = discriminator(sr_img)
        else:
            fake_logits = discriminator(sr_img)
        if kind == "freeze_late":
            discriminator.requires_grad_(False)
        adversarial = losses.generator_adversarial_loss(torch.sigmoid(fake_logits) if kind == "probabilities"
                                                        else fake_logits)
        if kind == "sign":
            adversarial = -adversarial
        content = content_loss(sr_img.detach() if kind == "content_detached" else sr_img, hr_img)
        total = content + adversarial_weight * adversarial
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        discriminator.requires_grad_(True)
        if kind == "eval":
            discriminator.train()
        return {"generator_loss": total.detach(), "content_loss": content.detach(),
                "adversarial_loss": adversarial.detach()}

    return step


@pytest.mark.parametrize(
    "kind, phrases",
    [
        ("no_grad", ["torch.no_grad()", "requires_grad_(False)"]),
        ("eval", ["eval() does not freeze"]),
        ("probabilities", ["probabilities", "logits"]),
        ("sign", ["wrong sign"]),
        ("content_detached", ["content loss got sr_img.detach()"]),
    ],
    ids=["no-grad", "eval", "probabilities", "sign", "content-detached"],
)
def test_generator_step_issue_14_mistakes_are_named(kind, phrases):
    _fails_with(checks.check_generator_step, _g_step_variant(kind), *phrases)


def test_freezing_d_after_its_forward_pass_is_not_a_mistake(capsys):
    _passes(checks.check_generator_step, _g_step_variant("freeze_late"), capsys)


def test_a_failing_step_describes_the_optimiser_in_one_line():
    def broken(discriminator, optimizer, hr_img, sr_img):
        raise ValueError("oops")

    message = _fails_with(checks.check_discriminator_step, broken, "SGD(lr=0.05)")
    assert "param_groups" not in message and "Parameter Group" not in message and message.count("\n") == 0


def _eq5(phi, sr, hr, rescale=1 / 12.75):
    difference = (phi(sr) - phi(hr).detach()) * rescale
    return difference.pow(2).sum(dim=1).mean()  # sum over channels / (W H), then over the batch


def test_vgg_content_loss_literal_eq5_passes_when_said(capsys):
    checks.check_vgg_content_loss(_eq5, convention="eq5")
    assert "eq. 5 as written" in capsys.readouterr().out


def test_vgg_content_loss_literal_eq5_is_not_called_a_mistake():
    message = _fails_with(checks.check_vgg_content_loss, _eq5, "valid convention", 'convention="eq5"')
    assert "mistake" not in message.lower()


def test_vgg_content_loss_mean_checked_as_eq5_is_named():
    with pytest.raises(ExerciseError, match="course's convention"):
        checks.check_vgg_content_loss(_content, convention="eq5")


def test_vgg_content_loss_tolerance_is_relative_as_stated():
    checks.check_vgg_content_loss(lambda *a, **k: _content(*a, **k) * (1 + 0.9e-4))
    _fails_with(checks.check_vgg_content_loss, lambda *a, **k: _content(*a, **k) * (1 + 1.1e-4), "expected")


def test_rgb_to_y_floored_to_8_bits_is_named():
    def floored(img):
        r, g, b = img
        return torch.floor(16 + 65.481 * r + 128.553 * g + 24.966 * b).unsqueeze(0) / 255

    _fails_with(checks.check_rgb_to_y, floored, "rounded Y down", "8-bit")


def test_generator_step_leaving_d_in_eval_mode_is_named():
    def left_in_eval(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight=1e-3):
        result = _g_step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight)
        discriminator.eval()
        return result

    _fails_with(checks.check_generator_step, left_in_eval, "left in eval mode")


def test_psnr_y_unknown_mistake_says_which_steps_to_check():
    _fails_with(checks.check_psnr_y, lambda sr, hr, scale: metrics.psnr(sr, hr, scale=scale) * 1.01,
                "none of the usual mistakes", "check each step")


def test_vgg_content_loss_refuses_an_unknown_convention():
    with pytest.raises(ValueError, match="convention"):
        checks.check_vgg_content_loss(_content, convention="sum")


# --- 5.3 the relativistic average discriminator loss (ESRGAN) -----------------------------------


def _ra(real, fake, *, real_mean=None, fake_mean=None, fake_sign=1.0, fake_label_real=False, detach=False):
    mean_fake = fake.mean() if fake_mean is None else fake_mean
    mean_real = real.mean() if real_mean is None else real_mean
    if detach:
        mean_fake, mean_real = mean_fake.detach(), mean_real.detach()
    real_term = F.softplus(-(real - mean_fake)).mean()
    fake_logit = fake_sign * (fake - mean_real)
    fake_term = F.softplus(-fake_logit).mean() if fake_label_real else F.softplus(fake_logit).mean()
    return real_term + fake_term


def test_relativistic_loss_reference_passes(capsys):
    _passes(checks.check_relativistic_discriminator_loss, _ra, capsys)
    _passes(checks.check_relativistic_discriminator_loss,
            lambda r, f: F.binary_cross_entropy_with_logits(r - f.mean(), torch.ones_like(r))
            + F.binary_cross_entropy_with_logits(f - r.mean(), torch.zeros_like(f)), capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (losses.discriminator_loss, ["plain loss of eq. 2", "average"]),
        (lambda r, f: _ra(r, f, real_mean=f.mean(), fake_mean=r.mean()), ["own mean"]),
        (lambda r, f: _ra(r, f, fake_sign=-1.0), ["real label", "wrong way round"]),
        (lambda r, f: _ra(r, f, fake_label_real=True), ["real label"]),
        (lambda r, f: _ra(r, f, detach=True), ["detached the means"]),
        (lambda r, f: _ra(r, f, real_mean=torch.sigmoid(r).mean(), fake_mean=torch.sigmoid(f).mean()),
         ["mean *probability*"]),
        (lambda r, f: -torch.log(torch.sigmoid(r - f.mean())).mean() - torch.log(1 - torch.sigmoid(f - r.mean())).mean(),
         ["overflows"]),
        (lambda r, f: _ra(r.sub_(f.mean()), f), ["in-place operation", "new tensor"]),
        (lambda r, f: _ra(r, f).detach(), ["no gradient"]),
    ],
    ids=["plain", "own-mean", "fake-order", "fake-real-label", "detached-means", "probability-mean", "unstable",
         "in-place", "no-graph"],
)
def test_relativistic_loss_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_relativistic_discriminator_loss, attempt, *phrases)


def test_relativistic_loss_unknown_mistake_shows_digits_and_the_input_to_check():
    message = _fails_with(checks.check_relativistic_discriminator_loss,
                          lambda r, f: F.softplus(-(r - f.mean())).mean() + 2 * F.softplus(f - r.mean()).mean(),
                          "you give", "expected", "relative", "fake_logits")
    assert "plain loss" not in message


@pytest.mark.parametrize("factor, passes", [(1 + 3e-5, True), (1 + 3e-4, False)])
def test_relativistic_loss_tolerance_is_the_stated_rtol(factor, passes, capsys):
    attempt = lambda r, f: _ra(r, f) * factor  # noqa: E731
    if passes:
        _passes(checks.check_relativistic_discriminator_loss, attempt, capsys)
    else:
        _fails_with(checks.check_relativistic_discriminator_loss, attempt, "expected")


# --- 1.2 by hand, and 1.3 the blur derived from the Nyquist limit --------------------------------


def _by_hand(hr_img, scale, sigma, *, padding="replicate", size=None, kernel=degradation.gaussian_kernel):
    k = size or degradation.default_kernel_size(sigma)
    x = hr_img if hr_img.dim() == 4 else hr_img[None]
    weight = kernel(k, sigma).to(x).expand(x.shape[1], 1, k, k)
    if padding == "zeros":
        blurred = F.conv2d(x, weight, padding=k // 2, groups=x.shape[1])
    else:
        blurred = F.conv2d(F.pad(x, (k // 2,) * 4, mode=padding), weight, groups=x.shape[1])
    out = blurred[..., ::scale, ::scale]
    return out if hr_img.dim() == 4 else out[0]


def test_blur_then_decimate_by_hand_passes(capsys):
    _passes(checks.check_blur_then_decimate, _by_hand, capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda img, s, sigma: _by_hand(img, s, sigma, padding="zeros"), ["padded with zeros", "replicate"]),
        (lambda img, s, sigma: _by_hand(img, s, sigma, padding="reflect"), ["mirrored", "replicate"]),
        (lambda img, s, sigma: _by_hand(img, s, sigma, size=5), ["your kernel is 5 x 5", "default_kernel_size"]),
        (lambda img, s, sigma: _by_hand(img.mul_(1.0), s, sigma) * 1.01, ["largest difference", "you give"]),
    ],
    ids=["zero-padding", "reflect-padding", "kernel-size", "unknown"],
)
def test_blur_then_decimate_by_hand_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_blur_then_decimate, attempt, *phrases)


def test_blur_then_decimate_changing_its_input_is_named():
    def in_place(img, scale, sigma):
        out = _by_hand(img, scale, sigma)
        img.zero_()
        return out

    _fails_with(checks.check_blur_then_decimate, in_place, "in place")


def gaussian_kernel(size, sigma):  # a learner's broken exercise 1.1 (not normalised), seen by blur_on_it
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    return torch.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma**2))


def blur_on_it(hr_img, scale, sigma):
    return _by_hand(hr_img, scale, sigma, kernel=gaussian_kernel)


def test_blur_then_decimate_on_a_broken_exercise_1_1_blames_it():
    _fails_with(checks.check_blur_then_decimate, blur_on_it, "exercise 1.1", "fix exercise 1.1 first")


@pytest.mark.parametrize("factor, passes", [(1 + 5e-5, True), (1 + 5e-4, False)])
def test_blur_then_decimate_tolerance_is_the_stated_rtol(factor, passes, capsys):
    if passes:
        _passes(checks.check_blur_then_decimate, lambda img, s, sigma: _by_hand(img, s, sigma) * factor, capsys)
    else:
        _fails_with(checks.check_blur_then_decimate, lambda img, s, sigma: _by_hand(img, s, sigma) * factor,
                    "largest difference")


def _nyquist(scale):
    return scale * math.sqrt(2 * math.log(2)) / math.pi


def test_nyquist_sigma_derivation_passes_and_is_confirmed_on_the_sampled_kernel(capsys):
    checks.check_nyquist_sigma(_nyquist)
    out = capsys.readouterr().out
    assert "passed" in out and "response 0.50" in out


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda r: _nyquist(r) / 2, ["1/r", "1/(2r)"]),
        (lambda r: r * math.sqrt(math.log(2)) / math.pi, ["power"]),
        (lambda r: 2 * r * math.sqrt(2 * math.log(2)), ["2 pi is missing"]),
        (lambda r: r * math.sqrt(2 * math.log10(2)) / math.pi, ["log10"]),
        (lambda r: (r - 1) / 2, ["course's rule"]),
        (lambda r: r / (2 * math.sqrt(2 * math.log(2))), ["full width at half maximum"]),
        (lambda r: 1.5, ["response", "derivation gives", "scale argument"]),
    ],
    ids=["nyquist-1-over-r", "half-power", "no-2pi", "log10", "course-rule", "fwhm", "constant"],
)
def test_nyquist_sigma_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_nyquist_sigma, attempt, *phrases)


@pytest.mark.parametrize("factor, passes", [(1 + 5e-7, True), (1 + 5e-6, False)])
def test_nyquist_sigma_tolerance_is_the_stated_rtol(factor, passes, capsys):
    if passes:
        _passes(checks.check_nyquist_sigma, lambda r: _nyquist(r) * factor, capsys)
    else:
        _fails_with(checks.check_nyquist_sigma, lambda r: _nyquist(r) * factor, "derivation gives")


# --- 7.3 how many ratings, and the tolerances of 7.1 / 7.2 ---------------------------------------


def _needed(std, half_width, confidence=0.95, *, quantile=None, minus=0, dof=-1):
    n = 2
    while True:
        q = quantile if quantile is not None else mos.t_quantile((1 + confidence) / 2, n + dof)
        if q * std / math.sqrt(n) <= half_width:
            return n - minus
        n += 1


def test_ratings_needed_reference_passes(capsys):
    _passes(checks.check_ratings_needed, _needed, capsys)


@pytest.mark.parametrize(
    "attempt, phrases",
    [
        (lambda s, h, confidence=0.95: _needed(s, h, confidence, quantile=mos.t_quantile((1 + confidence) / 2, 10**6)),
         ["normal quantile"]),
        (lambda s, h, confidence=0.95: _needed(s, h, confidence, dof=0), ["n degrees of freedom"]),
        (lambda s, h, confidence=0.95: _needed(s, h, confidence, quantile=mos.t_quantile(confidence, 10**6)) * 0
         + _needed_one_sided(s, h, confidence), ["one-sided"]),
        (lambda s, h, confidence=0.95: math.ceil(1.959963984540054 * s / h) if confidence == 0.95
         else math.ceil(1.6448536269514722 * s / h), ["square"]),
        (lambda s, h, confidence=0.95: _needed(s, h, confidence, minus=1), ["still too wide"]),
        (lambda s, h, confidence=0.95: (1.959963984540054 * s / h) ** 2 if confidence == 0.95
         else (1.6448536269514722 * s / h) ** 2, ["rounding up"]),
        (lambda s, h, confidence=0.95: 10, ["search n = 2, 3"]),
    ],
    ids=["normal", "dof-n", "one-sided", "no-square", "one-too-few", "not-rounded", "constant"],
)
def test_ratings_needed_mistakes_are_named(attempt, phrases):
    _fails_with(checks.check_ratings_needed, attempt, *phrases)


def _needed_one_sided(std, half_width, confidence):
    n = 2
    while mos.t_quantile(confidence, n - 1) * std / math.sqrt(n) > half_width:
        n += 1
    return n


@pytest.mark.parametrize("offset, passes", [(1e-10, True), (1e-7, False)])
def test_superiority_tolerance_is_the_stated_rtol(offset, passes, capsys):
    attempt = lambda a, b: _superiority(a, b) + offset  # noqa: E731
    if passes:
        _passes(checks.check_probability_of_superiority, attempt, capsys)
    else:
        message = _fails_with(checks.check_probability_of_superiority, attempt, "you gave")
        assert "0.5" in message or "0.6" in message or "0.7" in message


@pytest.mark.parametrize("factor, passes", [(1 + 1e-7, True), (1 + 1e-5, False)])
def test_mos_interval_tolerance_is_the_stated_rtol(factor, passes, capsys):
    def attempt(scores, confidence=0.95):
        mean, low, high = _interval(scores, confidence)
        return mean, mean - (mean - low) * factor, mean + (high - mean) * factor

    if passes:
        _passes(checks.check_mos_interval, attempt, capsys)
    else:
        _fails_with(checks.check_mos_interval, attempt, "you gave")


# --- re-audit of 1.x, 3.x, 5.x: tolerances just inside and outside, inputs intact, unknown mistakes --


@pytest.mark.parametrize("factor, passes", [(1 + 3e-6, True), (1 + 3e-5, False)])
def test_gaussian_kernel_tolerance_is_the_stated_rtol(factor, passes, capsys):
    attempt = lambda size, sigma: degradation.gaussian_kernel(size, sigma) * factor  # noqa: E731
    if passes:
        _passes(checks.check_gaussian_kernel, attempt, capsys)
    else:
        message = _fails_with(checks.check_gaussian_kernel, attempt, "sums to")
        assert "sums to 1.0000" in message  # enough digits to differ from 1


def test_gaussian_kernel_unknown_mistake_shows_the_largest_gap():
    def shifted_peak(size, sigma):
        kernel = degradation.gaussian_kernel(size, sigma).clone()
        corner, centre = float(kernel[0, 0]), float(kernel[size // 2, size // 2])
        kernel[0, 0], kernel[size // 2, size // 2] = centre, corner  # the sum stays 1
        return kernel

    message = _fails_with(checks.check_gaussian_kernel, shifted_peak, "largest difference", "[y, x]", "expected")
    assert "not centred" not in message


@pytest.mark.parametrize("factor, passes", [(1 + 3e-5, True), (1 + 3e-4, False)])
def test_discriminator_loss_tolerance_is_the_stated_rtol(factor, passes, capsys):
    attempt = lambda real, fake: losses.discriminator_loss(real, fake) * factor  # noqa: E731
    if passes:
        _passes(checks.check_discriminator_loss, attempt, capsys)
    else:
        message = _fails_with(checks.check_discriminator_loss, attempt, "you give", "relative")
        assert "sum" not in message.split("where")[0]


@pytest.mark.parametrize("factor, passes", [(1 + 3e-5, True), (1 + 3e-4, False)])
def test_generator_loss_tolerance_is_the_stated_rtol(factor, passes, capsys):
    attempt = lambda fake: losses.generator_adversarial_loss(fake) * factor  # noqa: E731
    if passes:
        _passes(checks.check_generator_adversarial_loss, attempt, capsys)
    else:
        _fails_with(checks.check_generator_adversarial_loss, attempt, "you give", "relative")


def test_discriminator_loss_unknown_mistake_says_which_input_to_check():
    message = _fails_with(checks.check_discriminator_loss,
                          lambda real, fake: F.softplus(-real).mean() + F.softplus(2 * fake).mean(),
                          "you give", "fake_logits")
    assert "real_logits differently" not in message


def test_a_loss_that_clamps_its_input_logits_in_place_is_named():
    def clamps(real, fake):
        real.data.clamp_(-1, 1)  # "for stability", but the caller's logits change
        return losses.discriminator_loss(real, fake)

    _fails_with(checks.check_discriminator_loss, clamps, "changed its input real_logits in place")
    _fails_with(checks.check_generator_adversarial_loss,
                lambda fake: (fake.data.clamp_(-1, 1), losses.generator_adversarial_loss(fake))[1],
                "changed its input fake_logits in place")


def test_parameter_count_off_by_one_is_not_given_a_named_mistake():
    message = _fails_with(checks.check_parameter_count,
                          lambda **kw: srresnet.count_parameters(srresnet.SRResNet(**kw)) + 1, "you counted")
    assert "forgot" not in message


def test_residual_block_unknown_mistake_shows_the_largest_gap():
    class HalfResidual(nn.Module):
        def __init__(self, num_features):
            super().__init__()
            self.inner = srresnet.ResidualBlock(num_features)

        def forward(self, features):
            return 0.5 * features + 0.5 * self.inner(features)

    message = _fails_with(checks.check_residual_block, HalfResidual)
    assert "skip connection" in message or "largest difference" in message
