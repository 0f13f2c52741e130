"""Checks for exercises 07: the MOS with its confidence interval, the probability of superiority (sec. 3.3)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from srgan_edu.checks._common import (
    _as_float, _call, _close, _digits, _fail, _name, _passed, _sentence, _single_threaded, _which_mistake,
)
from srgan_edu import mos

MOS_INTERVAL = "Exercise 7.1 (MOS with a confidence interval)"
SUPERIORITY = "Exercise 7.2 (which method do raters prefer?)"
RATINGS_NEEDED = "Exercise 7.3 (how many ratings for a given precision?)"


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
                raise _fail(exercise, f"the MOS of {scores} is {_digits(mean, expected[0])[1]} (the mean of the "
                                      f"scores), you gave {_digits(mean, expected[0])[0]}.")
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
                                  f"[{_digits(low, expected[1])[1]}, {_digits(high, expected[2])[1]}], you gave "
                                  f"[{_digits(low, expected[1])[0]}, {_digits(high, expected[2])[0]}]. {advice}")
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
        raise _fail(exercise, f"for A = {first} and B = {second} the answer is "
                              f"{_digits(got, expected)[1]} ({wins} wins and {ties} ties in {pairs} pairs), you gave "
                              f"{_digits(got, expected)[0]}. {advice}")
    _passed(exercise, "wins plus half the ties over all pairs, equal to the superiority of "
                      "srgan_edu.mos.mann_whitney_u.")


def _needed(std: float, half_width: float, confidence: float, quantile: Callable[[int], float]) -> int:
    """The smallest n >= 2 with quantile(n) * std / sqrt(n) <= half_width (quantile(n): the multiplier for n)."""
    n = 2
    while quantile(n) * std / math.sqrt(n) > half_width:
        n += 1
    return n


@_single_threaded
def check_ratings_needed(ratings_needed: Callable[..., int]) -> None:
    """Exercise 7.3: the smallest number of ratings whose t-based interval is at most +- ``half_width``.

    ``ratings_needed(std, half_width, confidence=0.95)`` must return the smallest integer n >= 2
    with t_{(1+confidence)/2, n-1} * std / sqrt(n) <= half_width, the sample standard deviation
    ``std`` taken from a pilot session. The reference searches n with :func:`srgan_edu.mos.t_quantile`.
    Exact: n is a count.

    Recognises: the normal quantile instead of Student's t (too few ratings), n instead of
    n - 1 degrees of freedom, a one-sided quantile, the square forgotten (std / half_width
    instead of its square), the largest n that still misses the target (one too few), a
    number that is not a whole count (not rounded up).

    Args:
        ratings_needed: ``(std: float, half_width: float, confidence: float) -> int``.
    """
    exercise = RATINGS_NEEDED
    # A small-n case last: there the degrees of freedom matter, but n - 1 with t(n) can also equal the
    # right answer minus one, so a mistake is first looked for where the two differ.
    for std, half_width, confidence in ((1.0, 0.25, 0.95), (0.9, 0.5, 0.95), (1.2, 0.3, 0.9), (0.8, 0.95, 0.95)):
        got = _as_float(exercise, _call(exercise, ratings_needed, std, half_width, confidence=confidence),
                        _name(ratings_needed))
        two_sided = 0.5 + confidence / 2
        expected = _needed(std, half_width, confidence, lambda n: mos.t_quantile(two_sided, n - 1))
        if got == expected:
            continue
        z = float(torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(two_sided, dtype=torch.float64)))
        mistakes = [
            (f"you used the normal quantile ({z:.3f}); the interval of exercise 7.1 uses Student's t with n - 1 "
             "degrees of freedom, which is larger for small n, so you need a few more ratings. t depends on n: "
             "try n = 2, 3, ... until the half-width is small enough.",
             lambda: _needed(std, half_width, confidence, lambda n: z)),
            ("you used n degrees of freedom; the interval's t has n - 1.",
             lambda: _needed(std, half_width, confidence, lambda n: mos.t_quantile(two_sided, n))),
            (f"you used a one-sided quantile: a two-sided {confidence:.0%} interval takes t at "
             f"{two_sided:.3f}.", lambda: _needed(std, half_width, confidence,
                                                   lambda n: mos.t_quantile(confidence, n - 1))),
            ("the half-width shrinks as 1 / sqrt(n), so n grows with the *square* of std / half_width.",
             lambda: math.ceil(z * std / half_width)),
            ("that is the largest n whose interval is still too wide; the answer is the first n that reaches the "
             "target.", lambda: expected - 1),
            ("the normal approximation without rounding up: n is a count, and (z s / h)^2 is only where the search "
             "starts.", lambda: (z * std / half_width) ** 2),
        ]
        mistake = _which_mistake(got, mistakes, rtol=1e-9)
        if mistake is None and got != round(got):
            mistake = "n is a count of ratings: return a whole number (the first n that reaches the target)."
        half = mos.t_quantile(two_sided, expected - 1) * std / math.sqrt(expected)
        shown = _digits(got, float(expected))
        advice = _sentence(mistake) if mistake else (
            "Search n = 2, 3, ... for the first n with t_{(1+confidence)/2, n-1} * std / sqrt(n) <= half_width.")
        raise _fail(exercise, f"for std {std}, a half-width of {half_width} at {confidence:.0%} the answer is "
                              f"{shown[1]} ratings (half-width {half:.4f}), you gave {shown[0]}. {advice}")
    _passed(exercise, "the first n with t * s / sqrt(n) <= the half-width, t with n - 1 degrees of freedom; "
                      f"for s = 1 and +-0.25 at 95 % that is {ratings_needed(1.0, 0.25, confidence=0.95)} ratings.")
