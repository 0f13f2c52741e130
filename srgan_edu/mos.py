"""The mean opinion score (MOS) test of the paper, in miniature for a class (sec. 3.3, lesson 07).

Ledig et al. asked 26 raters to score super-resolved images from 1 (bad quality) to 5
(excellent quality), shown one at a time in random order without saying which method made
them; the original high-resolution image (HR) was among them as an anchor. The mean of the
scores per method is its MOS: on Set14 SRGAN reached 3.72 against 4.32 for HR, far above
SRResNet although SRResNet has the higher PSNR. This module holds everything such a test
needs apart from the buttons (those are in :mod:`srgan_edu.widgets`):

- the blind plan: :func:`plan_trials` shuffles every (image, method) pair and gives each a
  neutral code, :class:`RatingSession` walks a rater through it;
- the ratings file: :class:`Rating`, :func:`append_ratings` and :func:`read_ratings` live in
  :mod:`srgan_edu.ratings` (one CSV file that many raters append to at the same time) and
  are re-exported here;
- the statistics: :func:`mos_by_method` (MOS with a t-based 95 % confidence interval),
  :func:`mann_whitney_u` (a rank test: ratings are ordinal, so a rank test asks less of them
  than a t-test) and :func:`pairwise_tests` (every pair of methods, Holm-corrected);
- :func:`simulate_ratings` for a demo when no class has rated yet (clearly labelled so).

Scores are integers 1-5. Images handed to a session are (3, H, W) float tensors in [0, 1].
"""

from __future__ import annotations

import math
import random
import string
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Re-exported: lessons and widgets call mos.Rating, mos.append_ratings, mos.read_ratings.
from srgan_edu.ratings import FIELDS, SCORE_LABELS, SCORE_RANGE, Rating, append_ratings, read_ratings  # noqa: F401

# Reports list methods in the paper's order; others go before HR in order of appearance.
METHOD_ORDER = ("nearest", "bicubic", "SRResNet", "SRGAN", "HR")

# --- the blind plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One image a rater scores: which version it is stays hidden behind ``code``."""

    index: int  # position in the rater's plan, from 0
    image: str  # the test image
    method: str  # the version (hidden from the rater)
    code: str  # a neutral label such as "K47": says nothing about the method


def plan_trials(images: Sequence[str], methods: Sequence[str], *, seed: int | None = None) -> list[Trial]:
    """Every (image, method) pair once, in a random order, each with a neutral code.

    The order avoids showing two versions of the same image one after the other where it
    can, so that a rater judges each picture on its own rather than against the last one.

    Args:
        images: names of the test images.
        methods: the versions of each image, HR included as the anchor.
        seed: for a repeatable order (each rater should get a different one).
    """
    if not images or not methods:
        raise ValueError("plan_trials needs at least one image and one method")
    rng = random.Random(seed)
    pairs = [(image, method) for image in images for method in methods]
    rng.shuffle(pairs)
    for _ in range(len(pairs)):  # a few passes of local swaps are enough
        clashes = [i for i in range(1, len(pairs)) if pairs[i][0] == pairs[i - 1][0]]
        if not clashes:
            break
        i = rng.choice(clashes)
        j = rng.randrange(len(pairs))
        pairs[i], pairs[j] = pairs[j], pairs[i]
    # A letter and a few digits: short to say aloud, unique, and unable to spell a method.
    letters = string.ascii_uppercase.replace("O", "").replace("I", "")
    digits = max(2, len(str(4 * len(pairs))))
    numbers = rng.sample(range(10**digits), len(pairs))
    trials = [
        Trial(index, image, method, f"{rng.choice(letters)}{number:0{digits}d}")
        for index, ((image, method), number) in enumerate(zip(pairs, numbers))
    ]
    return trials


@dataclass
class RatingSession:
    """A rater's walk through a blind plan; each score goes straight to the CSV file.

    Args (fields):
        versions: image name -> method -> (3, H, W) tensor in [0, 1]. Every image must
            have the same methods; include ``"HR"`` as the anchor.
        csv_path: the class's ratings file (shared by all raters).
        rater: this rater's name or anonymous id.
        session: a name for the session (a class, a date).
        seed: the order of the plan (default: from the rater's name, so that each rater
            gets a different but repeatable order).

    A rater who comes back (the cell run again, the notebook reopened) goes on where they
    stopped: the trials that the CSV already holds for this rater, session and plan are
    skipped (``resumed`` counts them), so nobody's image is rated twice.
    """

    versions: Mapping[str, Mapping[str, object]]
    csv_path: Path
    rater: str = "anonymous"
    session: str = "class"
    seed: int | None = None
    trials: list[Trial] = field(init=False)
    position: int = field(init=False, default=0)
    resumed: int = field(init=False, default=0)  # trials found already rated in the CSV

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError("a rating session needs at least one image")
        methods = None
        for image, by_method in self.versions.items():
            if methods is None:
                methods = list(by_method)
            elif set(by_method) != set(methods):
                raise ValueError(f"image {image!r} has versions {sorted(by_method)}, others have {sorted(methods)}")
        if "HR" not in methods:
            warnings.warn("no 'HR' version among the methods: without the anchor, scores of different sessions "
                          "cannot be compared (the paper always shows the HR images too)", stacklevel=3)
        self.csv_path = Path(self.csv_path)
        seed = self.seed if self.seed is not None else sum(ord(c) * 31**i for i, c in enumerate(self.rater)) % 2**31
        self.trials = plan_trials(list(self.versions), methods, seed=seed)
        rated = {(r.trial, r.image, r.method) for r in read_ratings(self.csv_path)
                 if r.rater == self.rater and r.session == self.session}
        while not self.done and (self.current.index, self.current.image, self.current.method) in rated:
            self.position += 1
        self.resumed = self.position

    @property
    def done(self) -> bool:
        """True once every trial has a score."""
        return self.position >= len(self.trials)

    @property
    def current(self) -> Trial | None:
        """The trial to score now (None when done)."""
        return None if self.done else self.trials[self.position]

    def current_image(self):
        """The (3, H, W) image in [0, 1] of the current trial (None when done)."""
        trial = self.current
        return None if trial is None else self.versions[trial.image][trial.method]

    def rate(self, score: int) -> Rating:
        """Score the current trial, append it to the CSV file, and move on to the next."""
        trial = self.current
        if trial is None:
            raise RuntimeError("this rater has scored every image already")
        rating = Rating(
            rater=self.rater,
            image=trial.image,
            method=trial.method,
            score=int(score),
            session=self.session,
            trial=trial.index,
            code=trial.code,
        )
        append_ratings(self.csv_path, [rating])
        self.position += 1
        return rating


# --- statistics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodScore:
    """The MOS of one method with its spread and a t-based confidence interval."""

    method: str
    count: int  # number of ratings
    mean: float  # the MOS
    std: float  # sample standard deviation (ddof = 1; nan for one rating)
    ci_low: float  # lower end of the confidence interval of the mean
    ci_high: float  # upper end
    histogram: tuple[int, ...]  # how many 1s, 2s, 3s, 4s and 5s
    confidence: float = 0.95

    @property
    def half_width(self) -> float:
        """Half the width of the confidence interval (the "+-" of a table)."""
        return (self.ci_high - self.ci_low) / 2


def t_quantile(probability: float, degrees_of_freedom: int) -> float:
    """The ``probability`` quantile of Student's t distribution (scipy.stats.t.ppf)."""
    from scipy import stats

    return float(stats.t.ppf(probability, degrees_of_freedom))


def mean_confidence_interval(scores: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-based confidence interval: mean +- t_{1-a/2, n-1} * s / sqrt(n).

    Returns:
        (mean, low, high); low and high are nan for fewer than two scores.
    """
    n = len(scores)
    if n == 0:
        raise ValueError("no scores")
    mean = sum(scores) / n
    if n < 2:
        return mean, math.nan, math.nan
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return mean, mean - half, mean + half


def mos_by_method(
    ratings: Iterable[Rating], *, methods: Sequence[str] | None = None, confidence: float = 0.95
) -> dict[str, MethodScore]:
    """The MOS of each method, with a t-based confidence interval.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    All ratings of a method are pooled (every rater, every image), as the paper does.
    Ratings from one rater are not independent of each other, so with few raters the
    interval is optimistic; it still shows how much a handful of ratings can tell.

    Args:
        ratings: the ratings (e.g. from :func:`read_ratings`).
        methods: the methods to report, in this order (default: the paper's order,
            :data:`METHOD_ORDER`, other methods before "HR" in order of appearance).
        confidence: of the interval (0.95 for 95 %).

    Returns:
        method -> :class:`MethodScore`, in the order of ``methods``.
    """
    by_method: dict[str, list[int]] = {}
    for rating in ratings:
        by_method.setdefault(rating.method, []).append(rating.score)
    if methods is None:
        known = [m for m in METHOD_ORDER if m in by_method and m != "HR"]
        others = [m for m in by_method if m not in METHOD_ORDER]
        methods = known + others + (["HR"] if "HR" in by_method else [])
    result = {}
    for method in methods:
        scores = by_method.get(method)
        if not scores:
            raise KeyError(f"no ratings for method {method!r}; rated methods: {sorted(by_method)}")
        mean, low, high = mean_confidence_interval(scores, confidence)
        n = len(scores)
        std = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1)) if n > 1 else math.nan
        histogram = tuple(scores.count(s) for s in range(SCORE_RANGE[0], SCORE_RANGE[1] + 1))
        result[method] = MethodScore(method, n, mean, std, low, high, histogram, confidence)
    return result


def rank_with_ties(values: Sequence[float]) -> list[float]:
    """Ranks from 1, tied values sharing the mean of their ranks (as scipy.stats.rankdata)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        mean_rank = (start + end) / 2 + 1
        for k in range(start, end + 1):
            ranks[order[k]] = mean_rank
        start = end + 1
    return ranks


@dataclass(frozen=True)
class RankTest:
    """The result of a Mann-Whitney U test of two groups of ratings."""

    statistic: float  # U of the first group: how often one of its ratings beats one of the second's
    p_value: float  # two-sided, normal approximation with tie and continuity correction
    superiority: float  # U / (n1 n2): the chance that a rating of group 1 beats one of group 2 (ties count half)


def mann_whitney_u(first: Sequence[float], second: Sequence[float]) -> RankTest:
    """Mann-Whitney U test (two-sided) of whether one group tends to be rated higher.

    Ratings are ordinal (a 4 is not "twice" a 2), so the test compares ranks, not means.
    U1 = R1 - n1 (n1 + 1) / 2 where R1 is the rank sum of the first group in the pooled
    ranking; under the null hypothesis U1 has mean n1 n2 / 2 and variance
    n1 n2 / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1))) for tie groups of size t. With only
    five possible scores ties are everywhere, so the tie correction matters. The p-value
    uses the normal approximation with a continuity correction of 0.5 and equals
    ``scipy.stats.mannwhitneyu(first, second, method="asymptotic")``.

    Args:
        first: ratings of one method.
        second: ratings of another.
    """
    n1, n2 = len(first), len(second)
    if n1 == 0 or n2 == 0:
        raise ValueError("both groups need at least one rating")
    pooled = list(first) + list(second)
    ranks = rank_with_ties(pooled)
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    tie_sizes: dict[float, int] = {}
    for value in pooled:
        tie_sizes[value] = tie_sizes.get(value, 0) + 1
    tie_term = sum(t**3 - t for t in tie_sizes.values())
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:  # every rating the same: nothing to tell the groups apart
        return RankTest(u1, 1.0, u1 / (n1 * n2))
    mean = n1 * n2 / 2
    distance = max(abs(u1 - mean) - 0.5, 0.0)
    z = distance / math.sqrt(variance)
    p_value = min(1.0, math.erfc(z / math.sqrt(2)))  # two-sided: 2 * (1 - Phi(z))
    return RankTest(u1, p_value, u1 / (n1 * n2))


@dataclass(frozen=True)
class PairTest:
    """A rank test between two methods, with the p-value corrected for testing many pairs."""

    first: str
    second: str
    test: RankTest
    p_adjusted: float  # Holm-Bonferroni over all pairs tested together

    def significant(self, level: float = 0.05) -> bool:
        """Whether the difference holds at ``level`` after the correction."""
        return self.p_adjusted < level


def pairwise_tests(ratings: Iterable[Rating], *, methods: Sequence[str] | None = None) -> list[PairTest]:
    """Mann-Whitney U between every pair of methods, with Holm's correction.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    Testing six pairs at the 5 % level finds a "difference" by chance far more often
    than 5 % of the time; Holm's step-down correction keeps the chance of any false
    finding at 5 %.

    Args:
        ratings: the ratings.
        methods: which methods, in which order (default: as :func:`mos_by_method`).
    """
    ratings = list(ratings)
    methods = list(mos_by_method(ratings, methods=methods))
    scores = {m: [r.score for r in ratings if r.method == m] for m in methods}
    pairs = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1 :]]
    tests = [mann_whitney_u(scores[a], scores[b]) for a, b in pairs]
    adjusted = holm_adjust([t.p_value for t in tests])
    return [PairTest(a, b, t, p) for (a, b), t, p in zip(pairs, tests, adjusted)]


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (monotone, capped at 1), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def format_mos_table(scores: Mapping[str, MethodScore], tests: Sequence[PairTest] = ()) -> str:
    """A plain-text table: method, number of ratings, MOS +- half-width, and the tests.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).
    """
    lines = [f"{'method':<14}{'ratings':>8}{'MOS':>7}   {'95% CI':<15}"]
    for s in scores.values():
        interval = "n/a" if math.isnan(s.ci_low) else f"[{s.ci_low:.2f}, {s.ci_high:.2f}]"
        lines.append(f"{s.method:<14}{s.count:>8}{s.mean:>7.2f}   {interval:<15}")
    if tests:
        lines.append("")
        lines.append("Mann-Whitney U, two-sided, Holm-corrected over all pairs:")
        for t in tests:
            verdict = "different" if t.significant() else "not distinguishable"
            lines.append(
                f"  {t.first} vs {t.second}: P({t.first} rated higher) = {t.test.superiority:.2f}, "
                f"p = {t.p_adjusted:.3g} -> {verdict} at 5 %"
            )
    return "\n".join(lines)


# --- a demo when no class has rated yet ----------------------------------------------------

# Invented for the demo (not measured): the order the paper reports on Set14,
# bicubic < SRResNet < SRGAN < HR, with made-up spreads.
DEMO_MEANS = {"bicubic": 1.9, "SRResNet": 2.9, "SRGAN": 3.6, "HR": 4.3}


def simulate_ratings(
    images: Sequence[str],
    *,
    means: Mapping[str, float] | None = None,
    num_raters: int = 6,
    spread: float = 0.8,
    rater_bias: float = 0.3,
    seed: int = 0,
    session: str = "simulated",
) -> list[Rating]:
    """Made-up ratings for a demo of the statistics: NOT the opinion of anyone.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    Each simulated rater has a personal bias (some are harsh, some lenient) and scores
    each (image, method) as round(mean + bias + noise), clipped to 1-5.

    Args:
        images: image names.
        means: method -> the mean score to simulate (default :data:`DEMO_MEANS`).
        num_raters: how many simulated raters.
        spread: standard deviation of the per-rating noise.
        rater_bias: standard deviation of the per-rater bias.
        seed: for repeatable numbers.
        session: written in the ``session`` column (default "simulated", so that nobody
            mistakes these for real ratings).
    """
    means = dict(DEMO_MEANS if means is None else means)
    rng = random.Random(seed)
    ratings = []
    for rater_index in range(num_raters):
        rater = f"simulated-{rater_index + 1}"
        bias = rng.gauss(0.0, rater_bias)
        for trial in plan_trials(images, list(means), seed=rng.randrange(2**31)):
            value = means[trial.method] + bias + rng.gauss(0.0, spread)
            score = int(min(SCORE_RANGE[1], max(SCORE_RANGE[0], round(value))))
            ratings.append(
                Rating(rater, trial.image, trial.method, score, session=session, trial=trial.index, code=trial.code)
            )
    return ratings
