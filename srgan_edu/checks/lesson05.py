"""Checks for exercises 05: the discriminator's and the generator's adversarial losses from logits (eq. 2, 6)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from srgan_edu.checks._common import (
    _as_float, _call, _close, _fail, _name, _passed, _seeded, _single_threaded, _which_mistake,
)
from srgan_edu import losses

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
