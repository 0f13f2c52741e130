"""The MOS kit: statistics against hand-computed values and scipy, and a ratings file that
survives several raters writing at once."""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import time
import warnings

import pytest
import torch

from srgan_edu import mos, ratings
from srgan_edu.mos import Rating


# --- statistics ----------------------------------------------------------------------------


def test_confidence_interval_by_hand():
    # scores 1..5: mean 3, s = sqrt(2.5), t_{0.975, 4} = 2.776445, half width = t * s / sqrt(5)
    mean, low, high = mos.mean_confidence_interval([1, 2, 3, 4, 5])
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert mean == 3
    assert low == pytest.approx(3 - half, abs=1e-5)
    assert high == pytest.approx(3 + half, abs=1e-5)
    assert high - 3 == pytest.approx(1.963243, abs=1e-5)


def test_confidence_interval_of_one_score_is_undefined():
    mean, low, high = mos.mean_confidence_interval([4])
    assert mean == 4 and math.isnan(low) and math.isnan(high)


def test_t_quantile_matches_tables():
    assert mos.t_quantile(0.975, 10) == pytest.approx(2.228139, abs=1e-6)
    assert mos.t_quantile(0.975, 1000) == pytest.approx(1.962339, abs=1e-6)


def test_mann_whitney_by_hand():
    # no ties: U1 = 0, mean 2, variance 2*2/12*5 = 5/3, z = (2 - 0.5) / sqrt(5/3)
    result = mos.mann_whitney_u([1, 2], [3, 4])
    assert result.statistic == 0
    z = 1.5 / math.sqrt(5 / 3)
    assert result.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)
    assert result.p_value == pytest.approx(0.245278, abs=1e-6)
    assert result.superiority == 0


def test_mann_whitney_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(3)
    for _ in range(20):
        first = [rng.randint(1, 5) for _ in range(rng.randint(2, 30))]
        second = [rng.randint(2, 5) for _ in range(rng.randint(2, 30))]
        ours = mos.mann_whitney_u(first, second)
        reference = stats.mannwhitneyu(first, second, alternative="two-sided", method="asymptotic")
        assert ours.statistic == pytest.approx(reference.statistic)
        assert ours.p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-12)


def test_mann_whitney_all_equal_is_not_significant():
    assert mos.mann_whitney_u([3, 3, 3], [3, 3]).p_value == 1.0


def test_ranks_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    assert mos.rank_with_ties(values) == pytest.approx(list(stats.rankdata(values)))


def test_holm_by_hand():
    assert mos.holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert mos.holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def _ratings(method_scores: dict[str, list[int]]) -> list[Rating]:
    return [
        Rating(rater=f"r{i}", image="img", method=method, score=score)
        for method, scores in method_scores.items()
        for i, score in enumerate(scores)
    ]


def test_mos_by_method_order_histogram_and_interval():
    ratings = _ratings({"HR": [5, 5, 4, 5], "bicubic": [1, 2, 2, 1], "SRGAN": [4, 3, 4, 4]})
    scores = mos.mos_by_method(ratings)
    assert list(scores) == ["bicubic", "SRGAN", "HR"]  # the paper's order
    assert list(mos.mos_by_method(ratings, methods=["HR", "SRGAN"])) == ["HR", "SRGAN"]
    other = _ratings({"HR": [5], "ESRGAN": [4], "bicubic": [1]})
    assert list(mos.mos_by_method(other)) == ["bicubic", "ESRGAN", "HR"]
    hr = scores["HR"]
    assert hr.count == 4 and hr.mean == pytest.approx(4.75)
    assert hr.histogram == (0, 0, 0, 1, 3)
    assert hr.std == pytest.approx(0.5)
    assert hr.half_width == pytest.approx(mos.t_quantile(0.975, 3) * 0.5 / 2)
    with pytest.raises(KeyError, match="SRResNet"):
        mos.mos_by_method(ratings, methods=["SRResNet"])


def test_pairwise_tests_and_table():
    ratings = mos.simulate_ratings([f"img{i}" for i in range(5)], num_raters=6, seed=1)
    tests = mos.pairwise_tests(ratings)
    assert len(tests) == 6
    by_pair = {(t.first, t.second): t for t in tests}
    assert by_pair[("bicubic", "HR")].significant()
    assert by_pair[("bicubic", "HR")].test.superiority < 0.1
    assert all(t.p_adjusted >= t.test.p_value for t in tests)
    table = mos.format_mos_table(mos.mos_by_method(ratings), tests)
    assert "bicubic" in table and "Holm" in table


def test_simulated_ratings_follow_the_demo_order_and_say_so():
    ratings = mos.simulate_ratings(["a", "b", "c"], num_raters=8, seed=0)
    assert len(ratings) == 3 * 4 * 8
    assert all(r.session == "simulated" and r.rater.startswith("simulated") for r in ratings)
    means = [s.mean for s in mos.mos_by_method(ratings).values()]
    assert means == sorted(means)  # bicubic < SRResNet < SRGAN < HR


def test_rating_rejects_bad_scores_and_line_breaks():
    for score in (0, 6, 2.5, True):
        with pytest.raises(ValueError):
            Rating("r", "img", "HR", score)
    with pytest.raises(ValueError, match="line break"):
        Rating("r\n", "img", "HR", 3)


# --- the blind plan ------------------------------------------------------------------------


def test_plan_has_every_pair_once_with_neutral_unique_codes():
    methods = ["bicubic", "SRResNet", "SRGAN", "HR"]
    trials = mos.plan_trials(["a", "b", "c"], methods, seed=5)
    assert sorted((t.image, t.method) for t in trials) == sorted((i, m) for i in "abc" for m in methods)
    assert [t.index for t in trials] == list(range(12))
    codes = [t.code for t in trials]
    assert len(set(codes)) == 12
    assert all(len(c) == 3 and c[0].isalpha() and c[1:].isdigit() for c in codes)
    assert mos.plan_trials(["a", "b", "c"], methods, seed=5) == trials
    assert mos.plan_trials(["a", "b", "c"], methods, seed=6) != trials


def test_rating_session_writes_every_score(tmp_path):
    image = torch.rand(3, 8, 8)
    versions = {name: {"HR": image, "bicubic": image * 0.5} for name in ("a", "b")}
    csv_path = tmp_path / "ratings.csv"
    session = mos.RatingSession(versions, csv_path, rater="ada", session="test")
    seen = []
    while not session.done:
        assert session.current_image() is not None
        seen.append(session.rate(4))
    assert session.current is None and session.current_image() is None
    with pytest.raises(RuntimeError):
        session.rate(3)
    stored = mos.read_ratings(csv_path)
    assert [(r.image, r.method, r.score, r.rater, r.code) for r in stored] == [
        (r.image, r.method, r.score, r.rater, r.code) for r in seen
    ]
    assert all(r.timestamp for r in stored)
    other = mos.RatingSession(versions, csv_path, rater="grace")
    assert [t.code for t in other.trials] != [t.code for t in session.trials]


def test_a_rater_who_comes_back_goes_on_where_they_stopped(tmp_path):
    image = torch.rand(3, 8, 8)
    versions = {name: {"HR": image, "bicubic": image * 0.5} for name in ("a", "b")}
    csv_path = tmp_path / "ratings.csv"
    first = mos.RatingSession(versions, csv_path, rater="ada", session="monday")
    assert first.resumed == 0
    first.rate(5)
    first.rate(2)
    again = mos.RatingSession(versions, csv_path, rater="ada", session="monday")  # the cell run again
    assert again.resumed == 2 and again.current == first.trials[2]
    while not again.done:
        again.rate(3)
    stored = mos.read_ratings(csv_path)
    assert len(stored) == 4 and len({(r.image, r.method) for r in stored}) == 4  # nothing rated twice
    assert mos.RatingSession(versions, csv_path, rater="ada", session="monday").done
    assert mos.RatingSession(versions, csv_path, rater="ada", session="tuesday").resumed == 0
    assert mos.RatingSession(versions, csv_path, rater="grace", session="monday").resumed == 0


def test_rating_session_needs_the_same_methods_for_every_image(tmp_path):
    image = torch.rand(3, 4, 4)
    with pytest.warns(UserWarning, match="anchor"):
        mos.RatingSession({"a": {"SRGAN": image}}, tmp_path / "r.csv")
    with pytest.raises(ValueError, match="versions"):
        mos.RatingSession({"a": {"HR": image}, "b": {"HR": image, "SRGAN": image}}, tmp_path / "r.csv")


# --- the ratings file ----------------------------------------------------------------------


def test_append_and_read_round_trip(tmp_path):
    path = tmp_path / "sub" / "ratings.csv"
    assert mos.read_ratings(path) == []
    first = [Rating("ada", "baboon", "SRGAN", 4, session="s, with comma", trial=2, code="K7Q")]
    assert mos.append_ratings(path, first) == 1
    assert mos.append_ratings(path, []) == 0
    mos.append_ratings(path, [Rating("bob", "baboon", "HR", 5)])
    text = path.read_text()
    assert text.splitlines()[0] == ",".join(mos.FIELDS)
    assert text.count("timestamp") == 1 and text.endswith("\n")
    stored = mos.read_ratings(path)
    assert [(r.rater, r.method, r.score, r.session, r.trial, r.code) for r in stored] == [
        ("ada", "SRGAN", 4, "s, with comma", 2, "K7Q"),
        ("bob", "HR", 5, "", 0, ""),
    ]


def test_a_torn_last_line_costs_only_itself(tmp_path):
    path = tmp_path / "ratings.csv"
    mos.append_ratings(path, [Rating("ada", "a", "HR", 5)])
    with open(path, "a") as handle:  # a writer that crashed mid-row
        handle.write("2024-01-01T00:00:00,class,bob,0,XYZ,a,SRG")
    with pytest.warns(UserWarning, match="skipped 1"):
        assert len(mos.read_ratings(path)) == 1
    mos.append_ratings(path, [Rating("cy", "a", "bicubic", 2)])
    with pytest.warns(UserWarning, match="skipped 1"):
        stored = mos.read_ratings(path)
    assert [r.rater for r in stored] == ["ada", "cy"]


def test_a_file_that_is_not_a_ratings_file_is_refused(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match="not a ratings file"):
        mos.read_ratings(path)


def _writer(path: str, rater: str, rows: int, use_fcntl: bool, seed: int) -> None:
    """Appends ``rows`` ratings in small batches, on a simulated slow disk (a network share)
    where each write call stores a few bytes only: without the lock, readers would see half
    rows and writers would interleave."""
    ratings._USE_FCNTL = use_fcntl
    real_write = os.write

    def slow_write(fd, data):
        time.sleep(0.0002)
        return real_write(fd, bytes(data[:16]))

    os.write = slow_write  # this child process only
    rng = random.Random(seed)
    written = 0
    while written < rows:
        batch = min(rows - written, rng.randint(1, 4))
        batch_ratings = [
            Rating(rater, f"image-{written + k}", "SRGAN", rng.randint(1, 5), trial=written + k) for k in range(batch)
        ]
        mos.append_ratings(path, batch_ratings)
        written += batch


@pytest.mark.parametrize("use_fcntl", [True, False], ids=["flock", "lockfile-fallback"])
def test_concurrent_raters_lose_no_rows_and_readers_see_no_half_rows(tmp_path, use_fcntl, monkeypatch):
    if use_fcntl and ratings._fcntl is None:
        pytest.skip("no fcntl on this platform")
    monkeypatch.setattr(ratings, "_USE_FCNTL", use_fcntl)
    path = tmp_path / "ratings.csv"
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    num_writers, rows = 4, 40
    workers = [
        context.Process(target=_writer, args=(str(path), f"rater-{i}", rows, use_fcntl, i)) for i in range(num_writers)
    ]
    for worker in workers:
        worker.start()
    counts = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a half row would warn
        deadline = time.monotonic() + 60
        while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
            counts.append(len(mos.read_ratings(path)))
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        stored = mos.read_ratings(path)
    assert counts == sorted(counts), "a reader saw rows disappear"
    assert len(stored) == num_writers * rows
    for i in range(num_writers):
        trials = [r.trial for r in stored if r.rater == f"rater-{i}"]
        assert trials == list(range(rows)), "rows of one rater lost or out of order"
    assert path.read_text().count("timestamp") == 1
    assert not os.path.exists(str(path) + ".lock")


def _age(path, seconds):
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_a_stale_lock_file_is_broken_but_a_fresh_one_is_not(tmp_path):
    lock = tmp_path / "ratings.csv.lock"
    lock.write_text("12345")
    assert not ratings._break_if_stale(lock) and lock.exists()  # a live writer's lock stays
    _age(lock, ratings._LOCKFILE_STALE_S + 5)
    assert ratings._break_if_stale(lock) and not lock.exists()  # a crashed writer's lock goes
    assert not (tmp_path / "ratings.csv.lock.break").exists()


def test_only_one_waiter_breaks_a_stale_lock(tmp_path):
    # While another waiter is breaking the lock (its .break file exists), nobody else deletes
    # anything: the lock it takes next must not be removed as "stale" by a second waiter.
    lock = tmp_path / "ratings.csv.lock"
    lock.write_text("12345")
    _age(lock, ratings._LOCKFILE_STALE_S + 5)
    breaker = tmp_path / "ratings.csv.lock.break"
    breaker.write_text("")
    assert not ratings._break_if_stale(lock) and lock.exists()
    _age(breaker, ratings._LOCKFILE_STALE_S + 5)  # the breaker itself crashed long ago: it ages out
    assert not ratings._break_if_stale(lock) and not breaker.exists()
    assert ratings._break_if_stale(lock) and not lock.exists()


def test_append_waits_out_a_stale_lock_with_the_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(ratings, "_USE_FCNTL", False)
    path = tmp_path / "ratings.csv"
    lock = tmp_path / "ratings.csv.lock"
    lock.write_text("12345")
    _age(lock, ratings._LOCKFILE_STALE_S + 5)
    mos.append_ratings(path, [Rating("ada", "a", "HR", 5)])
    assert [r.rater for r in mos.read_ratings(path)] == ["ada"] and not lock.exists()
