"""Checks for exercises 05: the discriminator's and the generator's adversarial losses from logits (eq. 2, 6)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from srgan_edu.checks._common import (
    _as_float, _call, _close, _digits, _fail, _gap_text, _name, _passed, _seeded, _single_threaded, _unchanged,
    _which_input, _which_mistake,
)
from srgan_edu import losses

DISCRIMINATOR_LOSS = "Exercise 5.1 (discriminator loss)"
GENERATOR_LOSS = "Exercise 5.2 (adversarial loss of the generator)"
RELATIVISTIC_LOSS = "Exercise 5.3 (the relativistic average discriminator loss)"

# Logits of a confidently wrong D: sigmoid rounds to exactly 0 or 1 in float32.
_EXTREME = 200.0


def _values(logits: torch.Tensor) -> str:
    """Logits for a message, in one line: "[1.23, -0.45, ...]"."""
    return "[" + ", ".join(f"{float(v):.3g}" for v in logits.reshape(-1)[:6]) + (", ..." if logits.numel() > 6 else "") + "]"


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

    exercise = DISCRIMINATOR_LOSS
    with _seeded(5) as generator:
        real_logits, fake_logits = _logit_cases(generator)
    real_given = real_logits.clone().requires_grad_(True)
    fake_given = fake_logits.clone().requires_grad_(True)
    loss = _call(exercise, discriminator_loss, real_given, fake_given)
    _unchanged(exercise, (("real_logits", real_given, real_logits), ("fake_logits", fake_given, fake_logits)))
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
            f"for real logits {_values(real_logits)} and fake logits {_values(fake_logits)} {_gap_text(got, expected)}"
            ", where the loss is mean(-log sigmoid(real_logits)) + mean(-log(1 - sigmoid(fake_logits))); "
            + _which_input(discriminator_loss, (real_logits, fake_logits), losses.discriminator_loss,
                           ("real_logits", "fake_logits")) + "."))
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
        raise _fail(exercise, f"for a confidently wrong D (logits of +-{_EXTREME:.0f}) your loss is "
                              f"{_digits(got_extreme, expected_extreme)[0]} instead of "
                              f"{_digits(got_extreme, expected_extreme)[1]}: a clamp or an epsilon inside the log caps the "
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

    exercise = GENERATOR_LOSS
    with _seeded(6) as generator:
        _, fake_logits = _logit_cases(generator)
    fake_given = fake_logits.clone().requires_grad_(True)
    loss = _call(exercise, adversarial_loss, fake_given)
    _unchanged(exercise, (("fake_logits", fake_given, fake_logits),))
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
            f"for the fake logits {_values(fake_logits)} {_gap_text(got, expected)}, where l_Gen = "
            "mean(-log sigmoid(fake_logits)) = mean(softplus(-fake_logits)). Check the sign, the label (the generator "
            "wants its fakes called real) and the mean."))
    reference_logits = fake_logits.clone().requires_grad_(True)
    expected_grad = torch.autograd.grad(losses.generator_adversarial_loss(reference_logits), reference_logits)
    _check_gradient(exercise, loss, (fake_given,), expected_grad, ("fake_logits",))
    extreme = torch.tensor([-_EXTREME, 1.0])
    got_extreme = _as_float(exercise, _call(exercise, adversarial_loss, extreme), _name(adversarial_loss))
    expected_extreme = losses.generator_adversarial_loss(extreme.double()).item()
    if not math.isfinite(got_extreme) or not _close(got_extreme, expected_extreme, rtol=1e-3):
        raise _fail(exercise, f"when D rejects a fake with a logit of -{_EXTREME:.0f} your loss is "
                              f"{_digits(got_extreme, expected_extreme)[0]} instead of "
                              f"{_digits(got_extreme, expected_extreme)[1]}: log(sigmoid(z)) overflows (or an epsilon caps "
                              "it). Use -log sigmoid(z) = softplus(-z) or F.binary_cross_entropy_with_logits.")
    _passed(exercise, "-mean log D(G(z)) from logits (non-saturating, stable), equal to "
                      "srgan_edu.losses.generator_adversarial_loss.")


def _relativistic_reference(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """ESRGAN's L_D^Ra from the library's eq. 2 loss: relativistic logits C(x_r) - E[C(x_f)], C(x_f) - E[C(x_r)]."""
    return losses.discriminator_loss(real_logits - fake_logits.mean(), fake_logits - real_logits.mean())


@_single_threaded
def check_relativistic_discriminator_loss(relativistic_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise 5.3: the relativistic average discriminator loss of ESRGAN (Wang et al., 2018), from logits.

    D_Ra(x_r, x_f) = sigmoid(C(x_r) - mean C(x_f)), and
    L_D^Ra = -mean log D_Ra(x_r, x_f) - mean log(1 - D_Ra(x_f, x_r)). The reference is
    :func:`srgan_edu.losses.discriminator_loss` applied to the relativistic logits
    ``real - fake.mean()`` and ``fake - real.mean()``. Checked on batches of different sizes,
    for a confidently wrong D (logits of +-200), with the gradient (which flows through both
    means), and that the learner's logits stay unchanged.

    Recognises: the plain eq. 2 loss (no mean subtracted), each batch's own mean subtracted,
    the fake term with the real label (the same number as its difference taken the wrong way
    round, mean C(x_r) - C(x_f)), the means detached (right value, wrong gradient), the sigmoid applied
    before the mean is subtracted, the unstable log(sigmoid(.)).

    Args:
        relativistic_loss: ``(real_logits (B,), fake_logits (B',)) -> scalar tensor``.
    """
    exercise = RELATIVISTIC_LOSS
    with _seeded(53) as generator:
        real_logits, fake_logits = _logit_cases(generator)
    real_given = real_logits.clone().requires_grad_(True)
    fake_given = fake_logits.clone().requires_grad_(True)
    loss = _call(exercise, relativistic_loss, real_given, fake_given)
    _unchanged(exercise, (("real_logits", real_given, real_logits), ("fake_logits", fake_given, fake_logits)))
    got = _as_float(exercise, loss, _name(relativistic_loss))
    real, fake = real_logits.double(), fake_logits.double()
    expected = _relativistic_reference(real, fake).item()
    if not _close(got, expected, rtol=1e-4):
        mistakes = [
            ("that is the plain loss of eq. 2 (exercise 5.1): the relativistic D judges how much more real an HR image "
             "looks than the *average* fake, so subtract mean(fake_logits) from the real logits (and mean(real_logits) "
             "from the fake ones) before the loss.", lambda: losses.discriminator_loss(real, fake).item()),
            ("you subtracted each batch's own mean (real - mean(real)): D_Ra compares with the *other* batch, "
             "real_logits - mean(fake_logits) and fake_logits - mean(real_logits).",
             lambda: losses.discriminator_loss(real - real.mean(), fake - fake.mean()).item()),
            ("your fake term is -log D_Ra(x_f, x_r), the generator's term: the fakes got the real label (or, the same "
             "number, the difference is the wrong way round, mean C(x_r) - C(x_f)). For D the fakes are fake: "
             "-log(1 - sigmoid(C(x_f) - mean C(x_r))) = softplus(fake_logits - mean(real_logits)).",
             lambda: losses.discriminator_loss(real - fake.mean(), real.mean() - fake).item()),
            ("you subtracted the mean *probability* sigmoid(C(x_f)) instead of the mean logit: the relativistic "
             "difference is taken before the sigmoid, C(x_r) - mean C(x_f).",
             lambda: losses.discriminator_loss(real - torch.sigmoid(fake).mean(), fake - torch.sigmoid(real).mean()).item()),
        ]
        mistake = _which_mistake(got, mistakes, rtol=1e-4)
        raise _fail(exercise, mistake or (
            f"for real logits {_values(real_logits)} and fake logits {_values(fake_logits)} {_gap_text(got, expected)}"
            ", where L_D^Ra = mean(softplus(-(real - mean(fake)))) + mean(softplus(fake - mean(real))); "
            + _which_input(relativistic_loss, (real_logits, fake_logits), _relativistic_reference,
                           ("real_logits", "fake_logits")) + "."))
    real_reference = real_logits.clone().requires_grad_(True)
    fake_reference = fake_logits.clone().requires_grad_(True)
    expected_grads = torch.autograd.grad(_relativistic_reference(real_reference, fake_reference),
                                         (real_reference, fake_reference))
    if isinstance(loss, torch.Tensor) and loss.requires_grad:
        got_grads = torch.autograd.grad(loss, (real_given, fake_given), retain_graph=True, allow_unused=True)
        real_detached = real_logits.clone().requires_grad_(True)
        fake_detached = fake_logits.clone().requires_grad_(True)
        detached_grads = torch.autograd.grad(
            losses.discriminator_loss(real_detached - fake_detached.mean().detach(),
                                      fake_detached - real_detached.mean().detach()),
            (real_detached, fake_detached))
        if all(g is not None for g in got_grads) and all(
                _close(g.double(), d.double(), rtol=1e-3) for g, d in zip(got_grads, detached_grads)) and not all(
                _close(g.double(), e.double(), rtol=1e-3) for g, e in zip(got_grads, expected_grads)):
            raise _fail(exercise, "the value is right, but you detached the means: in L_D^Ra each logit also acts "
                                  "through the other batch's mean, and D learns from that path too. Keep "
                                  "real_logits.mean() and fake_logits.mean() in the graph.")
    _check_gradient(exercise, loss, (real_given, fake_given), expected_grads, ("real_logits", "fake_logits"))
    real_extreme = torch.tensor([-_EXTREME, 3.0])
    fake_extreme = torch.tensor([_EXTREME, -2.0, 0.5])
    got_extreme = _as_float(exercise, _call(exercise, relativistic_loss, real_extreme, fake_extreme),
                            _name(relativistic_loss))
    expected_extreme = _relativistic_reference(real_extreme.double(), fake_extreme.double()).item()
    if not math.isfinite(got_extreme) or not _close(got_extreme, expected_extreme, rtol=1e-3):
        shown = _digits(got_extreme, expected_extreme)
        raise _fail(exercise, f"for a confidently wrong D (logits of +-{_EXTREME:.0f}) your loss is {shown[0]} instead "
                              f"of {shown[1]}: log(sigmoid(z)) overflows once sigmoid rounds to 0 (or an epsilon caps "
                              "it). Use softplus, or F.binary_cross_entropy_with_logits, on the relativistic logits.")
    _passed(exercise, "L_D^Ra = -mean log sigmoid(C(x_r) - mean C(x_f)) - mean log(1 - sigmoid(C(x_f) - mean C(x_r))), "
                      "stable, with the gradient through both means; equal to losses.discriminator_loss on the "
                      "relativistic logits.")
