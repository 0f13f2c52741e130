"""Running the course: execute the notebooks headless, build exercises from solutions.

``python -m srgan_edu.course run``   executes every lesson (``notebooks/``) and every solved
                                     exercise (``solutions/``) in fast mode with papermill and
                                     writes them to ``build/course/``; every exercise notebook
                                     (``exercises/``) must stop at its first ``NotImplementedError``.
``python -m srgan_edu.course build`` writes ``exercises/`` and ``solutions/`` from the marked
                                     source in ``source/exercises/``.
``python -m srgan_edu.course check`` fails when the committed folders differ from what
                                     ``build`` would write.

The same functions run the notebooks in the test suite, so ``make course`` and CI agree.

This is tooling, not a lesson: it imports nothing from the rest of the package and stands in
its last layer (see ``srgan_edu/__init__.py``). It stays inside the package rather than in
``tools/`` because teachers are told to run ``python -m srgan_edu.course ...`` (docs/teaching.md),
the Makefile and the test suite import it by that name, and ``python -m`` finds it from any
folder once the package is installed; it only makes sense in a clone (it reads ``REPO_ROOT``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_FOLDERS = ("notebooks", "solutions", "exercises")
SOURCE_DIR = REPO_ROOT / "source" / "exercises"

# nbgrader's markers, so that a teacher can also run `nbgrader generate_assignment` on source/.
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_STUB = "YOUR ANSWER HERE"


@dataclass(frozen=True)
class NotebookRun:
    """What executing one notebook gave."""

    path: Path  # the source notebook
    output_path: Path  # the executed copy
    seconds: float  # wall-clock time of the run
    stopped_at_exercise: bool  # an exercise notebook that stopped at NotImplementedError, as it should


def course_notebooks(root: Path = REPO_ROOT, folders: tuple[str, ...] = NOTEBOOK_FOLDERS) -> list[Path]:
    """Every course notebook under ``root``, lessons first, in lesson order."""
    found: list[Path] = []
    for folder in folders:
        found.extend(sorted((root / folder).glob("*.ipynb")))
    return found


def is_exercise(path: Path) -> bool:
    """Exercise notebooks are allowed (and expected) to stop at ``NotImplementedError``."""
    return path.parent.name == "exercises"


def execute_notebook(
    path: Path,
    output_path: Path,
    *,
    cwd: Path | None = None,
    parameters: dict | None = None,
    timeout: int = 600,
) -> NotebookRun:
    """Execute one notebook with papermill in fast mode (its ``parameters`` cell defaults).

    Args:
        path: the notebook to run.
        output_path: where the executed notebook (with outputs) is written.
        cwd: the working folder of the kernel (default: a ``work`` folder beside the output),
            so that files a lesson writes (``runs/``) never land in the repository.
        parameters: values that replace the ``parameters`` cell defaults.
        timeout: seconds one cell may run.

    Raises:
        RuntimeError: a cell failed; the message names the notebook, the cell and the error.
            For an exercise notebook, stopping at ``NotImplementedError`` is the expected outcome
            and is reported in the result instead.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output_path.parent.mkdir(parents=True, exist_ok=True)
    cwd = cwd or output_path.parent / "work" / path.stem
    cwd.mkdir(parents=True, exist_ok=True)
    # An inherited non-interactive backend would make the figures vanish from the outputs.
    saved_backend = os.environ.pop("MPLBACKEND", None)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path),
            str(output_path),
            parameters=parameters or {},
            cwd=str(cwd),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=timeout,
            kernel_manager_class=_kernel_manager_class(),
        )
        stopped = False
    except PapermillExecutionError as err:
        if is_exercise(path) and err.ename == "NotImplementedError" and _stopped_in_exercise_cell(output_path):
            stopped = True
        else:
            raise RuntimeError(
                f"{path} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                f"The executed notebook with the traceback is at {output_path}."
            ) from err
    finally:
        if saved_backend is not None:
            os.environ["MPLBACKEND"] = saved_backend
    seconds = time.perf_counter() - start
    if is_exercise(path) and not stopped:
        raise RuntimeError(
            f"{path} ran to the end, but an exercise notebook should stop at its first "
            "'raise NotImplementedError()'. Was a solution left in the exercise?"
        )
    return NotebookRun(path, output_path, seconds, stopped)


def _kernel_manager_class():
    """Kernels whose messages are encrypted (CurveZMQ) where jupyter_client can ask for it (8.9+).

    ipykernel warns, for every notebook, that a kernel on TCP without encryption can be read by
    other processes on the machine; with keys provisioned by the manager it is not, and says
    nothing. Older jupyter_client versions get the plain manager.
    """
    from jupyter_client.manager import KernelManager

    if "transport_encryption" not in KernelManager.class_trait_names():
        return KernelManager

    class EncryptedKernelManager(KernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport_encryption = "auto"  # encrypt when the kernel supports it

    return EncryptedKernelManager


def _stopped_in_exercise_cell(executed_path: Path) -> bool:
    """Whether the cell that raised is part of an exercise: the learner's code or its check (nbgrader metadata).

    An unsolved exercise stops there with ``NotImplementedError``; the same error anywhere else
    (a set-up cell, a library call) is a bug in the notebook, not the learner's turn. The cell is
    found by its error output: papermill adds cells of its own to the executed copy.
    """
    cells = json.loads(Path(executed_path).read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            marks = cell.get("metadata", {}).get("nbgrader", {})
            return bool(marks.get("solution") or marks.get("grade"))
    return False


def run_course(out_dir: Path, root: Path = REPO_ROOT, folders: tuple[str, ...] = NOTEBOOK_FOLDERS) -> list[NotebookRun]:
    """Execute every course notebook into ``out_dir/<folder>/``, printing a line for each."""
    runs = []
    failures = []
    for path in course_notebooks(root, folders):
        output_path = out_dir / path.parent.name / path.name
        try:
            result = execute_notebook(path, output_path)
        except RuntimeError as err:
            print(f"FAILED {path.relative_to(root)}\n{err}", flush=True)
            failures.append(path)
            continue
        note = " (stopped at the first exercise, as it should)" if result.stopped_at_exercise else ""
        print(f"ok  {result.seconds:6.1f} s  {path.relative_to(root)} -> {output_path}{note}", flush=True)
        runs.append(result)
    if failures:
        raise RuntimeError(f"{len(failures)} notebook(s) failed: " + ", ".join(str(p) for p in failures))
    return runs


# --- exercises and solutions from one marked source ---------------------------------------


def _replace_regions(text: str, begin: str, end: str, stub: tuple[str, ...] | None, where: str) -> str:
    """Replace each ``begin``...``end`` region by ``stub`` lines (indented like the marker),
    or drop the marker lines only when ``stub`` is None."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(text.split("\n"), start=1):
        marker = line.strip()
        if marker == begin:
            if inside:
                raise ValueError(f"{where}: line {number} opens '{begin}' again before '{end}'")
            inside = True
            if stub is not None:
                indent = line[: len(line) - len(line.lstrip())]
                out.extend(indent + s for s in stub)
            continue
        if marker == end:
            if not inside:
                raise ValueError(f"{where}: line {number} has '{end}' without '{begin}'")
            inside = False
            continue
        if stub is None or not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: '{begin}' is never closed by '{end}'")
    return "\n".join(out)


def make_solution(nb):
    """The solved notebook: markers removed, hidden tests kept, outputs cleared."""
    nb = _copy_clean(nb)
    for index, cell in enumerate(nb.cells):
        where = f"cell {index}"
        cell.source = _replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, None, where)
        cell.source = _replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, None, where)
    return nb


def make_exercise(nb):
    """The learner's notebook: each solution region replaced by a stub, hidden tests removed."""
    nb = _copy_clean(nb)
    for index, cell in enumerate(nb.cells):
        where = f"cell {index}"
        stub = CODE_STUB if cell.cell_type == "code" else (ANSWER_STUB,)
        cell.source = _replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, stub, where)
        cell.source = _replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, (), where)
    return nb


def _copy_clean(nb):
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    return nb


def built_notebooks(source_dir: Path = SOURCE_DIR, root: Path = REPO_ROOT) -> dict[Path, str]:
    """What ``build`` writes: repository path -> notebook text, for every source notebook."""
    import nbformat

    sources = sorted(source_dir.glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"No exercise sources in {source_dir}")
    written: dict[Path, str] = {}
    for path in sources:
        nb = nbformat.read(path, as_version=4)
        if not any(BEGIN_SOLUTION in cell.source for cell in nb.cells):
            raise ValueError(f"{path} has no '{BEGIN_SOLUTION}' marker: it is not an exercise source")
        try:
            written[root / "solutions" / path.name] = nbformat.writes(make_solution(nb)) + "\n"
            written[root / "exercises" / path.name] = nbformat.writes(make_exercise(nb)) + "\n"
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err
    return written


def build_exercises(source_dir: Path = SOURCE_DIR, root: Path = REPO_ROOT) -> list[Path]:
    """Write ``exercises/`` and ``solutions/``; remove generated notebooks whose source is gone."""
    written = built_notebooks(source_dir, root)
    for folder in ("solutions", "exercises"):
        (root / folder).mkdir(exist_ok=True)
        for stale in (root / folder).glob("*.ipynb"):
            if stale not in written:
                stale.unlink()
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
    return sorted(written)


def check_exercises(source_dir: Path = SOURCE_DIR, root: Path = REPO_ROOT) -> list[str]:
    """What differs between the committed folders and what ``build`` would write (empty: in step)."""
    written = built_notebooks(source_dir, root)
    problems = []
    for path, text in written.items():
        if not path.exists():
            problems.append(f"missing: {path.relative_to(root)}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"differs from its source: {path.relative_to(root)}")
    for folder in ("solutions", "exercises"):
        for extra in sorted((root / folder).glob("*.ipynb")):
            if extra not in written:
                problems.append(f"has no source in {source_dir.relative_to(root)}: {extra.relative_to(root)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srgan_edu.course", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute the lessons and solutions in fast mode")
    run.add_argument("--out", type=Path, default=Path("build/course"), help="where executed notebooks go")
    run.add_argument("--folders", nargs="+", default=list(NOTEBOOK_FOLDERS), choices=NOTEBOOK_FOLDERS)
    commands.add_parser("build", help="write exercises/ and solutions/ from source/exercises/")
    commands.add_parser("check", help="fail when exercises/ or solutions/ drift from source/exercises/")
    args = parser.parse_args(argv)
    if args.command == "build":
        for path in build_exercises():
            print(f"wrote {path.relative_to(REPO_ROOT)}")
    elif args.command == "check":
        problems = check_exercises()
        if problems:
            print("exercises/ and solutions/ are out of step with source/exercises/:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            print("Run `make exercises` (python -m srgan_edu.course build) and commit the result.", file=sys.stderr)
            return 1
        print("exercises/ and solutions/ match their source.")
    elif args.command == "run":
        try:
            runs = run_course(args.out.resolve(), folders=tuple(args.folders))
        except RuntimeError as err:
            print(err, file=sys.stderr)
            return 1
        total = sum(r.seconds for r in runs)
        print(f"{len(runs)} notebooks executed in {total:.0f} s; executed copies under {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
