"""Checks for exercises 06: one discriminator step and one generator step (eq. 2, 3, 6; ESRGAN's L_G^Ra)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from srgan_edu.checks._common import _as_float, _lacks_argument, _call, _close, _digits, _fail, _passed, _seeded, _single_threaded
from srgan_edu import losses, paper, training
from srgan_edu.discriminator import Discriminator
from srgan_edu.srresnet import SRResNet

DISCRIMINATOR_STEP = "Exercise 6.1 (one discriminator step)"
GENERATOR_STEP = "Exercise 6.2 (one generator step)"

# A generator step is checked with a larger adversarial weight than the paper's 1e-3, so that
# the adversarial term's share of the update is large enough to see.
_CHECK_ADVERSARIAL_WEIGHT = 0.05


def _tiny_game(seed: int) -> tuple[nn.Module, nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A tiny SRResNet, a tiny discriminator (in float64, so that small differences show) and two batches."""

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


def _play_discriminator_steps(step: Callable, seed: int, exercise: str | None = None, **step_kwargs: float):
    """Two D steps with ``step`` (``step_kwargs`` passed on); returns (D's parameter change, G after, the results)."""
    network, judge, batches = _tiny_game(seed)
    before = _flat(judge)
    optimizer = torch.optim.SGD(judge.parameters(), lr=0.05)
    results = []
    for lr_img, hr_img in batches:
        sr_img = network(lr_img)  # with its graph back to G, as in training
        hr_before = hr_img.clone()
        if exercise is None:
            results.append(step(judge, optimizer, hr_img, sr_img, **step_kwargs))
        else:
            results.append(_call(exercise, step, judge, optimizer, hr_img, sr_img, **step_kwargs))
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


def _play_generator_steps(step: Callable, seed: int, exercise: str | None = None, *, adversarial_weight: float,
                          **step_kwargs: bool):
    """Two G steps with ``step`` (``step_kwargs`` passed on); returns (G's parameter change, D after, the results)."""

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
            args = (judge, optimizer, sr_img, hr_img, losses.mse_content_loss)
            if exercise is None:
                results.append(step(*args, adversarial_weight=adversarial_weight, **step_kwargs))
            else:
                hr_before = hr_img.clone()
                results.append(_call(exercise, step, *args, adversarial_weight=adversarial_weight, **step_kwargs))
                if not torch.equal(hr_img, hr_before):
                    raise _fail(exercise, "your step changed hr_img in place; the caller still needs it. Use "
                                          "operations that return new tensors.")
    finally:
        hook.remove()
    results.append(judged_with_graph)
    return _flat(network) - before, judge, results


def _smoothed_step(real_label: float, kind: str = "right") -> Callable:
    """D's step with one-sided label smoothing (real images labelled ``real_label``, fakes 0), or a mistake in it."""

    def step(discriminator, optimizer, hr_img, sr_img):
        real_logits = discriminator(hr_img)
        fake_logits = discriminator(sr_img.detach())
        label = 1.0 if kind == "ignored" else real_label
        if kind == "scaled":  # the real term multiplied by the label instead of a soft target
            real_term = real_label * F.softplus(-real_logits).mean()
        else:
            real_term = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, label))
        fake_target = torch.full_like(fake_logits, 1.0 - real_label if kind == "two_sided" else 0.0)
        loss = real_term + F.binary_cross_entropy_with_logits(fake_logits, fake_target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"discriminator_loss": loss.detach(), "d_real": torch.sigmoid(real_logits.detach()).mean(),
                "d_fake": torch.sigmoid(fake_logits.detach()).mean()}

    return step


def _check_label_smoothing(exercise: str, discriminator_step: Callable, seed: int, real_label: float) -> None:
    """Phase two of 6.1: the same step with real images labelled ``real_label`` (one-sided label smoothing)."""
    if _lacks_argument(discriminator_step, "real_label"):
        raise _fail(exercise, "your step is right for real_label=1, but it has no real_label argument: add "
                              "real_label=1.0 to its signature and use it as the target of the real images.")
    got_change, _, results = _play_discriminator_steps(discriminator_step, seed, exercise, real_label=real_label)
    results = results[:-1]
    expected_change, _, expected_results = _play_discriminator_steps(_smoothed_step(real_label), seed)
    if _relative_gap(got_change, expected_change) > 1e-5:
        mistakes = [
            (f"with real_label={real_label} your step makes the same update as with 1: the argument is ignored. "
             "The real images' target becomes real_label: F.binary_cross_entropy_with_logits(real_logits, "
             "torch.full_like(real_logits, real_label)).", "ignored"),
            (f"you smoothed both labels (fakes labelled {1 - real_label:.1f}): the smoothing is one-sided, only the "
             "real images' target moves (Salimans et al., 2016); the fakes keep label 0.", "two_sided"),
            ("you multiplied the real term by real_label; smoothing changes the *target*: the real term becomes "
             "-(real_label log D(x) + (1 - real_label) log(1 - D(x))), i.e. BCE with target real_label.", "scaled"),
        ]
        for description, kind in mistakes:
            change, _, _ = _play_discriminator_steps(_smoothed_step(real_label, kind), seed)
            if _relative_gap(got_change, change) < 1e-5:
                raise _fail(exercise, description)
        raise _fail(exercise, f"with real_label={real_label}, after two steps D's weights differ from the smoothed "
                              f"step's by {_relative_gap(got_change, expected_change):.2%} of the change (with "
                              "real_label=1 they agree). Check the real term: BCE of real_logits against the target "
                              "real_label; the fake term stays BCE against 0.")
    for got, expected in zip(results, expected_results):
        value = _as_float(exercise, got["discriminator_loss"], "the value of 'discriminator_loss'")
        if not _close(value, float(expected["discriminator_loss"]), rtol=1e-4):
            shown = _digits(value, float(expected["discriminator_loss"]))
            raise _fail(exercise, f"with real_label={real_label} discriminator_loss is {shown[0]}, expected {shown[1]}: "
                                  "report the smoothed loss that the step minimised.")


def _discriminator_step_mistake(kind: str) -> Callable:
    """The library's D step with one typical mistake made on purpose."""

    def step(discriminator, optimizer, hr_img, sr_img):
        if kind == "joint_batch":
            logits = discriminator(torch.cat([hr_img, sr_img.detach()]))
            real_logits, fake_logits = logits[: len(hr_img)], logits[len(hr_img):]
        else:
            real_logits = discriminator(hr_img)
            fake_logits = discriminator(sr_img.detach())
        if kind == "probabilities":
            real_logits, fake_logits = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
        loss = (losses.discriminator_loss(fake_logits, real_logits) if kind == "swapped"
                else -losses.discriminator_loss(real_logits, fake_logits) if kind == "ascent"
                else losses.discriminator_loss(real_logits, fake_logits))
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

    ``discriminator_step(discriminator, optimizer, hr_img, sr_img, real_label=1.0)`` gets a tiny
    D, its SGD optimiser, HR crops in [-1, 1] and the output of a tiny generator *with its
    graph*. Two steps on two batches must change D exactly as the library's two steps do, leave
    the generator without gradients and sr_img with its graph, and return
    ``{"discriminator_loss", "d_real", "d_fake"}`` (the loss, and the mean D(x) and D(G(z)),
    probabilities, before the update). Then the variation: with ``real_label=0.9`` (one-sided
    label smoothing, Salimans et al. 2016) the real images' BCE target is 0.9 and the fakes' 0;
    two steps must match that update too.

    Recognises: the generator's output not detached (D's loss reaches G), ``zero_grad``
    forgotten (gradients pile up over steps), ``optimizer.step()`` forgotten or called
    before ``backward``, labels swapped, gradient ascent (the sign), real and fake scored
    in one batch (batch norm then mixes them), D(x) and D(G(z)) returned as logits, an
    in-place ``detach_()`` of sr_img, hr_img changed; and for the smoothing: no real_label
    argument, the argument ignored, both labels smoothed, the real term multiplied by the label.

    Args:
        discriminator_step: ``(discriminator, optimizer, hr_img, sr_img, real_label=1.0) -> dict``.
    """

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
    _check_label_smoothing(exercise, discriminator_step, seed, real_label=0.9)
    _passed(exercise, "sr_img detached, zero_grad -> backward -> step, the same update as "
                      "srgan_edu.training.discriminator_step; D(x) and D(G(z)) reported as probabilities; with "
                      "real_label=0.9 the real images' target is 0.9 and the fakes' stays 0.")


def _generator_step_mistake(kind: str) -> Callable:
    """A generator step with one typical mistake made on purpose."""

    def step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight):
        judged = sr_img.detach() if kind == "detached" else sr_img
        fake_logits = discriminator(judged)
        if kind == "saturating":
            adversarial = -F.softplus(fake_logits).mean()  # log(1 - D(G(z)))
        elif kind == "fake_label":
            adversarial = F.softplus(fake_logits).mean()  # -log(1 - D(G(z))): BCE with label 0
        elif kind == "probabilities":
            adversarial = losses.generator_adversarial_loss(torch.sigmoid(fake_logits))
        elif kind == "sign":
            adversarial = -losses.generator_adversarial_loss(fake_logits)
        else:
            adversarial = losses.generator_adversarial_loss(fake_logits)
        weight = {"unweighted": 1.0, "paper_weight": paper.ADVERSARIAL_WEIGHT}.get(kind, adversarial_weight)
        content_input = sr_img.detach() if kind == "content_detached" else sr_img
        total = content_loss(content_input, hr_img) + (0.0 if kind == "content_only" else weight) * adversarial
        if kind != "no_zero_grad":
            optimizer.zero_grad()
        total.backward()
        optimizer.step()
        return {}

    return step


def _relativistic_adversarial(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "right") -> torch.Tensor:
    """ESRGAN's L_G^Ra (Wang et al., 2018, eq. 2): exercise 5.3's loss with the roles swapped, or a mistake in it.

    L_G^Ra = -E[log(1 - D_Ra(x_r, x_f))] - E[log D_Ra(x_f, x_r)]: G wants its outputs judged more real
    than the average HR crop (label 1) and the HR crops less real than its average output (label 0).
    """
    real_relative = real_logits - fake_logits.mean()  # (B,); fake_logits.mean() carries G's graph
    fake_relative = fake_logits - real_logits.mean()  # (B,)
    if kind == "ignored":
        return losses.generator_adversarial_loss(fake_logits)
    if kind == "unswapped":  # D's own L_D^Ra
        return losses.discriminator_loss(real_relative, fake_relative)
    if kind == "fake_only":
        return losses.generator_adversarial_loss(fake_relative)
    if kind == "own_means":
        return losses.discriminator_loss(fake_logits - fake_logits.mean(), real_logits - real_logits.mean())
    return losses.discriminator_loss(fake_relative, real_relative)


def _relativistic_generator_step(kind: str = "right") -> Callable:
    """G's step with ESRGAN's relativistic average adversarial term (or a mistake in it), D frozen."""

    def step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight, relativistic=True):
        discriminator.requires_grad_(False)
        try:
            if kind == "joint_batch":
                logits = discriminator(torch.cat([hr_img, sr_img]))
                real_logits, fake_logits = logits[: len(hr_img)], logits[len(hr_img):]
            else:
                fake_logits = discriminator(sr_img)
                real_logits = discriminator(hr_img)
            content = content_loss(sr_img, hr_img)
            adversarial = _relativistic_adversarial(real_logits, fake_logits,
                                                    "right" if kind == "joint_batch" else kind)
            total = content + adversarial_weight * adversarial
        finally:
            discriminator.requires_grad_(True)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        return {"generator_loss": total.detach(), "content_loss": content.detach(),
                "adversarial_loss": adversarial.detach()}

    return step


def _raise_matching_mistake(exercise: str, got_change: torch.Tensor, mistakes: list[tuple[str, str]],
                            mistaken_step: Callable[[str], Callable], seed: int, weight: float) -> None:
    """Name the first listed mistake whose two steps move G's weights exactly as the learner's did."""
    for description, kind in mistakes:
        change, _, _ = _play_generator_steps(mistaken_step(kind), seed, adversarial_weight=weight)
        if _relative_gap(got_change, change) < 1e-5:
            raise _fail(exercise, description)


def _check_relativistic(exercise: str, generator_step: Callable, seed: int, weight: float) -> None:
    """Phase two of 6.2: the same step with ``relativistic=True`` (ESRGAN's L_G^Ra in place of l_Gen)."""
    if _lacks_argument(generator_step, "relativistic"):
        raise _fail(exercise, "your step is right for the paper's l_Gen, but it has no relativistic argument: add "
                              "relativistic=False to its signature and, when it is True, use ESRGAN's relativistic "
                              "average adversarial term instead of l_Gen.")
    got_change, _, results = _play_generator_steps(generator_step, seed, exercise, adversarial_weight=weight,
                                                   relativistic=True)
    expected_change, _, expected_results = _play_generator_steps(_relativistic_generator_step(), seed,
                                                                 adversarial_weight=weight)
    if _relative_gap(got_change, expected_change) > 1e-5:
        mistakes = [
            ("with relativistic=True your step makes the same update as with False: the argument is ignored. Score "
             "hr_img too and use the relativistic logits of exercise 5.3 with the labels swapped.", "ignored"),
            ("that is D's relativistic loss (exercise 5.3) as it stands: G minimising it helps D. G swaps the roles: "
             "losses.discriminator_loss(fake_logits - real_logits.mean(), real_logits - fake_logits.mean()).",
             "unswapped"),
            ("the HR crops' term sends G no gradient: it is missing, or fake_logits.mean() in it is detached. In the "
             "relativistic game G also learns from it, because the mean fake logit sits in the HR crops' "
             "relativistic logits real_logits - fake_logits.mean() (label 0 for G).", "fake_only"),
            ("you subtracted each kind's own mean (fake_logits - fake_logits.mean()): the relativistic average "
             "compares each fake with the mean *real* logit, and each real with the mean *fake* logit.",
             "own_means"),
            ("you scored hr_img and sr_img in one batch (torch.cat). With batch norm in D each image is then "
             "normalised with statistics of both kinds; score them as two batches, discriminator(sr_img) and "
             "discriminator(hr_img).", "joint_batch"),
        ]
        _raise_matching_mistake(exercise, got_change, mistakes, _relativistic_generator_step, seed, weight)
        raise _fail(exercise, f"with relativistic=True, after two steps G's weights differ from the relativistic "
                              f"step's by {_relative_gap(got_change, expected_change):.2%} of the change (with "
                              "relativistic=False they agree). Check the adversarial term: D scores sr_img (with its "
                              "graph) and hr_img, and L_G^Ra = losses.discriminator_loss(fake_logits - "
                              "real_logits.mean(), real_logits - fake_logits.mean()).")
    for got, expected in zip(results[:-1], expected_results[:-1]):
        for key in expected:
            value = _as_float(exercise, got[key], f"the value of {key!r}") if isinstance(got, dict) and key in got \
                else None
            if value is None:
                raise _fail(exercise, f"with relativistic=True the returned dict lacks {key!r}.")
            if not _close(value, float(expected[key]), rtol=1e-4):
                shown = _digits(value, float(expected[key]))
                raise _fail(exercise, f"with relativistic=True {key} is {shown[0]}, expected {shown[1]}"
                                      + (": report L_G^Ra before it is multiplied by the weight."
                                         if key == "adversarial_loss" else "."))


@_single_threaded
def check_generator_step(generator_step: Callable[..., dict]) -> None:
    """Exercise 6.2: one update of the generator with l_SR = l_X + w * l_Gen (eq. 3, 6).

    ``generator_step(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight=..., relativistic=False)``
    gets D, G's SGD optimiser, G's output *with its graph*, the targets, a content loss
    (MSE here) and the weight w (0.05 in the check, so that the adversarial part of the update
    is large enough to see; the paper's is 1e-3). Two steps must change G exactly as
    :func:`srgan_edu.training.generator_step` does, leave D's weights without gradients and
    trainable afterwards, and return ``{"generator_loss", "content_loss", "adversarial_loss"}``
    (l_SR, l_X, and l_Gen before its weight).

    Recognises: sr_img detached before D (the adversarial term then teaches G nothing), the
    saturating log(1 - D(G(z))), the fakes labelled fake, the weight forgotten or fixed at
    1e-3 instead of the argument, ``zero_grad`` forgotten, D's weights collecting gradients
    (not frozen) or left frozen afterwards, the adversarial term left out, hr_img changed in place.
    Then the variation: with ``relativistic=True`` the adversarial term is ESRGAN's relativistic
    average L_G^Ra (Wang et al. 2018): ``losses.discriminator_loss(fake_logits - real_logits.mean(),
    real_logits - fake_logits.mean())``; two steps must match that update and its reported values.
    Recognises there: no relativistic argument, the argument ignored, D's L_D^Ra unswapped, the HR
    crops' term missing (or its fake mean detached), each kind's own mean, one joint batch.

    Args:
        generator_step: ``(discriminator, optimizer, sr_img, hr_img, content_loss, adversarial_weight,
            relativistic=False) -> dict``.
    """

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
        _raise_matching_mistake(exercise, got_change, mistakes, _generator_step_mistake, seed, weight)
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
    _check_relativistic(exercise, generator_step, seed, weight)
    _passed(exercise, "l_SR = l_X + w * (-log D(G(z))) with D judging sr_img itself, D frozen during the step; "
                      "the same update as srgan_edu.training.generator_step; with relativistic=True, ESRGAN's "
                      "L_G^Ra (exercise 5.3's logits, labels swapped) in place of l_Gen.")
