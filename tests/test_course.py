"""The exercise builder: one marked source gives exercises/ and solutions/, and drift is caught."""

from __future__ import annotations

import nbformat
import pytest

from srgan_edu import course

SOLUTION_CELL = """def psnr_by_hand(a, b):
    ### BEGIN SOLUTION
    mse = ((a - b) ** 2).mean()
    return 10 * math.log10(1 / mse)
    ### END SOLUTION
"""
HIDDEN_CELL = """check_psnr(psnr_by_hand)
### BEGIN HIDDEN TESTS
assert psnr_by_hand(x, x + 0.1) > 19
### END HIDDEN TESTS
"""


def _source_notebook(tmp_path, cells=None):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("MODE = 'fast'  # full mode: 'full'")
    params.metadata["tags"] = ["parameters"]
    answer = nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION")
    nb.cells = cells or [params, nbformat.v4.new_code_cell(SOLUTION_CELL), nbformat.v4.new_code_cell(HIDDEN_CELL), answer]
    source_dir = tmp_path / "source" / "exercises"
    source_dir.mkdir(parents=True)
    nbformat.write(nb, source_dir / "01_demo.ipynb")
    return source_dir


def test_build_writes_solution_and_exercise(tmp_path):
    source_dir = _source_notebook(tmp_path)
    course.build_exercises(source_dir, tmp_path)
    solution = nbformat.read(tmp_path / "solutions" / "01_demo.ipynb", as_version=4)
    exercise = nbformat.read(tmp_path / "exercises" / "01_demo.ipynb", as_version=4)
    assert "### BEGIN" not in "".join(c.source for c in solution.cells)
    assert "return 10 * math.log10(1 / mse)" in solution.cells[1].source
    assert "assert psnr_by_hand" in solution.cells[2].source
    assert exercise.cells[1].source == (
        "def psnr_by_hand(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    )
    assert exercise.cells[2].source == "check_psnr(psnr_by_hand)\n"
    assert exercise.cells[3].source == "Why?\nYOUR ANSWER HERE"
    assert exercise.cells[0].metadata["tags"] == ["parameters"]


def test_check_reports_drift_and_stale_files(tmp_path):
    source_dir = _source_notebook(tmp_path)
    assert course.check_exercises(source_dir, tmp_path) == [
        "missing: solutions/01_demo.ipynb",
        "missing: exercises/01_demo.ipynb",
    ]
    course.build_exercises(source_dir, tmp_path)
    assert course.check_exercises(source_dir, tmp_path) == []
    edited = tmp_path / "exercises" / "01_demo.ipynb"
    edited.write_text(edited.read_text().replace("YOUR CODE HERE", "my attempt"))
    (tmp_path / "solutions" / "99_orphan.ipynb").write_text("{}")
    assert course.check_exercises(source_dir, tmp_path) == [
        "differs from its source: exercises/01_demo.ipynb",
        "has no source in source/exercises: solutions/99_orphan.ipynb",
    ]
    course.build_exercises(source_dir, tmp_path)
    assert not (tmp_path / "solutions" / "99_orphan.ipynb").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("### END SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "without"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "again before"),
    ],
)
def test_unbalanced_markers_are_refused_with_the_place(tmp_path, text, message):
    source_dir = _source_notebook(tmp_path, cells=[nbformat.v4.new_code_cell(text)])
    with pytest.raises(ValueError, match=message) as info:
        course.build_exercises(source_dir, tmp_path)
    assert "01_demo.ipynb" in str(info.value) and "cell 0" in str(info.value)


def test_a_source_without_markers_is_refused(tmp_path):
    source_dir = _source_notebook(tmp_path, cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(ValueError, match="not an exercise source"):
        course.build_exercises(source_dir, tmp_path)


def test_committed_exercises_and_solutions_match_their_source():
    problems = course.check_exercises()
    assert not problems, "run `make exercises` and commit:\n" + "\n".join(problems)


def _exercise_notebook(folder, *, setup: str, exercise: str):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("MODE = 'fast'  # full mode: 'full'")
    params.metadata["tags"] = ["parameters"]
    answer = nbformat.v4.new_code_cell(exercise)
    answer.metadata["nbgrader"] = {"grade": False, "grade_id": "demo", "locked": False, "schema_version": 3,
                                   "solution": True, "task": False}
    nb.cells = [params, nbformat.v4.new_code_cell(setup), answer]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "01_demo.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.notebook
def test_an_exercise_may_stop_only_in_an_exercise_cell(tmp_path):
    unsolved = _exercise_notebook(tmp_path / "a" / "exercises", setup="x = 1",
                                  exercise="# YOUR CODE HERE\nraise NotImplementedError()")
    run = course.execute_notebook(unsolved, tmp_path / "out" / "a.ipynb", cwd=tmp_path)
    assert run.stopped_at_exercise
    broken = _exercise_notebook(tmp_path / "b" / "exercises", setup="raise NotImplementedError('a set-up bug')",
                                exercise="# YOUR CODE HERE\nraise NotImplementedError()")
    with pytest.raises(RuntimeError, match="a set-up bug"):
        course.execute_notebook(broken, tmp_path / "out" / "b.ipynb", cwd=tmp_path)
