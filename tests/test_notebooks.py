"""Every course notebook: committed clean, with a parameters cell, and executed in fast mode.

The static checks are quick; the executions (marker ``notebook``) run each notebook with
papermill exactly as ``make course`` does and keep the executed copies under
``test-artifacts/notebooks/`` for a look after a failure.

Reproducibility is nbval's part. A lesson marks its deterministic cells (the paper's table on the
built-in images, parameter counts, fixed-seed measurements) with ``# NBVAL_CHECK_OUTPUT``. After
papermill has run a lesson, ``pytest --nbval-lax`` executes the same notebook a second time and
fails when a marked cell prints anything different from the first run. To keep CI short the second
run stops at the last marked cell (nothing after it can change a marked output), and cells tagged
``nbval-skip`` in the lesson (figures, and training runs whose results no marked cell reads) are not
executed again. Timings and thread-order noise stay unmarked, and the lesson says so beside them.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import srgan_edu
from srgan_edu.course import REPO_ROOT, course_notebooks, execute_notebook, is_exercise

NOTEBOOKS = course_notebooks()
ARTIFACTS = REPO_ROOT / "test-artifacts" / "notebooks"


def _ids(paths):
    return [f"{p.parent.name}/{p.stem}" for p in paths]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def test_the_course_has_its_lessons():
    lessons = [p.name for p in NOTEBOOKS if p.parent.name == "notebooks"]
    assert lessons, "no lesson notebooks found under notebooks/"
    assert lessons[0].startswith("00_"), lessons


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_committed_clean(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", "kernel must be python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    with_outputs = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count")]
    assert not with_outputs, f"code cells {with_outputs} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_has_a_parameters_cell_with_full_mode_values(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one code cell must carry the papermill tag 'parameters'"
    source = _source(tagged[0])
    ast.parse(source)
    assert "full" in source.lower(), "the parameters cell must say what the full-mode values are"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_opens_with_goals_and_times_and_ends_with_a_summary(path):
    cells = _cells(path)
    opening = re.sub(r"\s+", " ", _source(cells[0]))
    assert cells[0]["cell_type"] == "markdown" and opening.startswith("# "), "the first cell is the title"
    assert re.search(r"you (will be able to|can)", opening), "the opening says what the learner will be able to do"
    assert "Fast mode" in opening and "Full mode" in opening, "the opening gives the time in each mode"
    closing = _source(cells[-1])
    assert cells[-1]["cell_type"] == "markdown" and "## Summary" in closing, "the last cell is a summary"
    if path.parent.name == "notebooks":
        assert "exercises/" in closing, "a lesson ends with a pointer to the exercises"
    else:
        assert re.search(r"[Ll]esson \d\d|exercises/\d\d_", closing), "an exercise ends pointing to what comes next"


def _imported_library_modules(path: Path) -> set[str]:
    """The srgan_edu modules a notebook's code cells import (``from srgan_edu import a, b``,
    ``from srgan_edu.a import f``, ``import srgan_edu.a``)."""
    modules = set()
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(line for line in _source(cell).splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module == "srgan_edu":
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("srgan_edu."):
                modules.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                modules.update(a.name.split(".")[1] for a in node.names if a.name.startswith("srgan_edu."))
    return modules


LESSONS = [p for p in NOTEBOOKS if not is_exercise(p) and p.parent.name == "notebooks"]


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_lesson_opening_names_the_library_modules_it_imports(path):
    # "Say where the code is": the opening's "**Library modules used:**" paragraph names, in
    # backticks (`srgan_edu.vgg` or `vgg`), exactly the modules the lesson's code imports.
    opening = _source(_cells(path)[0])
    match = re.search(r"\*\*Library modules used:\*\*(.*?)(\n\s*\n|$)", opening, re.S)
    assert match, "the opening has no '**Library modules used:**' paragraph under the goals"
    named = {name.split(".")[-1] for name in re.findall(r"`(?:srgan_edu\.)?([a-z_][a-z0-9_.]*)`", match.group(1))}
    imported = _imported_library_modules(path)
    assert named == imported, (f"the opening names modules {sorted(named - imported)} the lesson does not import, "
                               f"and leaves out {sorted(imported - named)} that it imports")


def _library_function_names() -> set[str]:
    import importlib
    import pkgutil

    names = set()
    for info in pkgutil.iter_modules(srgan_edu.__path__):
        if info.name in ("cli", "__main__", "course"):
            continue
        module = importlib.import_module(f"srgan_edu.{info.name}")
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_"):
                names.add(name)
    return names


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not is_exercise(p) and p.parent.name == "notebooks"],
                         ids=_ids([p for p in NOTEBOOKS if not is_exercise(p) and p.parent.name == "notebooks"]))
def test_lesson_defines_no_private_copy_of_a_library_function(path):
    # Catches a `def` that shadows a library function's name. A copy under another name, or
    # inline code, is not caught here; reviews and the lessons' "Library first" habit are.
    library = _library_function_names()
    copies = []
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(line for line in _source(cell).splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and node.name in library:
                copies.append(node.name)
    assert not copies, f"the lesson redefines library functions {copies}; import them from srgan_edu instead"


def _printed(executed: dict) -> str:
    """Everything the executed notebook printed (streams and plain-text results)."""
    parts = []
    for cell in executed["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(_source({"source": out["text"]}))
            elif "text/plain" in out.get("data", {}):
                parts.append(_source({"source": out["data"]["text/plain"]}))
    return "\n".join(parts)


def _number_after(pattern: str, text: str) -> float:
    match = re.search(pattern + r"\s*([-+]?\d+(?:\.\d+)?)", text, flags=re.M)
    assert match, f"the notebook did not print {pattern!r}"
    return float(match.group(1))


def _commas(text: str) -> str:
    """The printed text with thousands separators removed (1,550,659 -> 1550659)."""
    return re.sub(r"(?<=\d),(?=\d{3})", "", text)


def _check_lesson_01(text: str) -> None:
    # "the negative lobes overshoot [0, 1] a little"
    low, high = re.search(r"bicubic LR \(3, \d+, \d+\), values in \[([-\d.]+), ([-\d.]+)\]", text).groups()
    assert float(low) < 0 or float(high) > 1
    # "degrading the HR crop on its own gives the same LR pixels, except near the crop's border"
    crop = re.search(r"largest ([\d.e+-]+) over the whole crop, ([\d.e+-]+) two LR pixels in", text)
    assert float(crop[2]) < 1e-4 < float(crop[1]), crop[0]
    for total in re.findall(r"weights, sum ([\d.]+)", text):  # "divided by their sum so that a flat grey stays grey"
        assert float(total) == 1.0


def _check_lesson_02(text: str) -> None:
    rows = {name: [float(v) for v in values.split()] for name, values in
            re.findall(r"^(chelsea|coffee|rocket) +((?:\d+\.\d+ +){2}\d+\.\d+)$", text, flags=re.M)}
    assert len(rows) == 3, rows
    for nearest, bilinear, bicubic in rows.values():  # "bicubic ... scores best, 0.2-0.6 dB above bilinear"
        assert nearest < bilinear < bicubic and 0.15 <= bicubic - bilinear <= 0.65, rows
    assert _number_after(r"PSNR in the open:", text) == _number_after(r"dB;  metrics.psnr:", text)

    def variant(name: str) -> tuple[list[float], float, float | None]:  # per-image PSNR, mean change, SSIM change
        numbers = re.search(re.escape(name) + r" +(.+)$", text, flags=re.M)[1].split()
        values = [float(v) for v in numbers[:3]]
        return values, float(numbers[4]), float(numbers[6]) if len(numbers) > 6 else None

    paper, _, _ = variant("the paper's protocol (Y, shave 4)")
    rgb, _, rgb_ssim = variant("RGB instead of Y")  # "costs 1.4-2.5 dB here, and SSIM drops too"
    assert all(1.35 <= a - b <= 2.55 for a, b in zip(paper, rgb)) and rgb_ssim < 0
    no_shave, _, _ = variant("no border shave")  # "at most two tenths of a dB, in either direction"
    assert all(abs(a - b) <= 0.2 for a, b in zip(paper, no_shave))
    _, aliased, aliased_ssim = variant("LR made without antialiasing")  # "about 1 dB lower ... for the cat even rises"
    assert -1.5 < aliased < -0.5 and 0 < aliased_ssim < 0.01
    _, gaussian, _ = variant("LR made by Gaussian blur + decimation")  # "costs even more"
    assert gaussian < aliased
    # "(float images here; evaluate_bicubic's 8-bit files give ... dB: rounding to 8 bits costs little)"
    assert abs(_number_after(r"8-bit files give", text) - sum(paper) / 3) < 0.1
    # "the degradation cannot tell them apart": the candidates' LR patches agree to float precision
    assert float(re.search(r"their LR patches \(3, \d+, \d+\) differ by at most ([\d.e+-]+);", text)[1]) < 1e-5
    # "every sharp candidate has the same expected MSE, twice that of the mean: ... gains 3 dB"
    candidates = [float(v) for v in re.findall(r"^(?:vertical|horizontal), \+\d px +([\d.]+)", text, flags=re.M)]
    mean = _number_after(r"pixel-wise mean +", text)
    assert len(candidates) == 8 and len(set(candidates)) == 1 and abs(candidates[0] / mean - 2) < 0.01
    assert float(re.search(r"bicubic upscale of the shared LR patch: largest difference ([\d.e+-]+)", text)[1]) < 1e-5


def _check_lesson_03(text: str) -> None:
    # "the small network learns: its PSNR on the held-out coffee photograph climbs with every measurement"
    log = [float(v) for v in re.findall(r"update +\d+: MSE [\d.]+, coffee PSNR ([\d.]+) dB", text)]
    assert len(log) >= 2 and all(a < b for a, b in zip(log, log[1:])), log
    # "it has not caught up with bicubic, though"
    assert _number_after(r"SRResNet - bicubic on coffee:", text) < 0
    # "a faint regular grid ... its strength is printed under the first comparison: small, but above bicubic's"
    grid = re.search(r"strength of the trained output: ([\d.]+) \(bicubic ([\d.]+), untrained network ([\d.]+)\)", text)
    assert float(grid[2]) < float(grid[1]) < float(grid[3]) / 10, grid[0]
    # "count its 1.55 million parameters"; "three quarters of the parameters are in the residual blocks"
    total, body = _number_after(r"^total +", _commas(text)), _number_after(r"^16 residual blocks +", _commas(text))
    assert round(total / 1e6, 2) == 1.55 and round(body / total, 2) in (0.75, 0.76, 0.77), (total, body)
    # "about 80x80 LR pixels for the paper's network"
    assert _number_after(r"receptive field of the paper's SRResNet:", text) == 80
    # "the residual body does about 53 % of the multiply-adds; the x4 network costs about 1.8x a x1 one"
    assert round(_number_after(r"residual body:", text)) == 53
    assert abs(_number_after(r"x1 network of the same depth:", text) - 1.8) < 0.05
    # "the trained SRResNet beats bicubic on every test image, in PSNR and in SSIM"
    assert _number_after(r"SRResNet-MSE - bicubic on coffee:", text) > 0
    counts = re.search(r"beats bicubic: (\d+) of (\d+) in PSNR, (\d+) of (\d+) in SSIM", text)
    assert counts and counts[1] == counts[2] == counts[3] == counts[4] == "3", counts and counts[0]
    # "the gains are tenths of a dB to about one dB, not the paper's 3.6 dB on Set5"
    gains = [float(v) for v in re.findall(r"^\w+ +[\d.]+ +[\d.]+ +([-+][\d.]+) +[\d.]+ +[\d.]+$", text, flags=re.M)]
    assert len(gains) == 3 and all(0 < gain < 1.5 for gain in gains), gains
    # "and its mean error is the lower of the two"
    errors = re.search(r"mean \|Y error\| in 8-bit levels: bicubic ([\d.]+), SRResNet-MSE ([\d.]+)", text)
    assert errors and float(errors[2]) < float(errors[1])


def _check_lesson_04(text: str) -> None:  # without weights the lesson must say its comparison is not meaningful
    from srgan_edu import vgg

    # "the MSE charges the invisible one-pixel shift at least as much as the visible blur"
    assert _number_after(r"MSE \(pixels\) +charges the shift", text) >= 1
    if not vgg.pretrained_weights_available():
        assert "RANDOM" in text and "not meaningful" in text
    else:  # "while phi_5,4 charges the shift only a fraction of the blur"
        assert _number_after(r"VGG relu5_4 +charges the shift", text) < 1


def _check_lesson_05(text: str) -> None:
    # "where its 23.6 million parameters are": "four fifths of the parameters sit in the first dense layer"
    total, dense = re.search(r"parameters: ([\d,]+) in all; ([\d,]+) of them in the first dense layer", text).groups()
    total, dense = int(total.replace(",", "")), int(dense.replace(",", ""))
    assert round(total / 1e6, 1) == 23.6 and round(dense / total, 1) == 0.8
    # "the textbook form gives inf"; "the stable form gives the right answer (here about 15.1)"
    assert "textbook form: inf" in text and round(_number_after(r"stable form:", text), 1) == 15.1
    # eq. 6 keeps a strong gradient where eq. 2's term is flat
    assert abs(_number_after(r"-log D\(G\(z\)\) \(eq\. 6\):", text)) > 0.9
    assert abs(_number_after(r"log\(1 - D\(G\(z\)\)\) \(eq\. 2\):", text)) < 1e-3
    # scored as in training: "HR crops high, SRResNet crops low, bicubic crops mostly low"
    scores = text.split("as in training")[1]
    hr = _number_after(r"HR\s+mean D\(x\)", scores)
    assert hr > _number_after(r"bicubic\s+mean D\(x\)", scores)
    assert hr > _number_after(r"SRResNet\s+mean D\(x\)", scores)
    called = dict(re.findall(r"(HR|bicubic|SRResNet)\s+mean D\(x\) [\d.]+; called 'real' for\s+(\d+)%", scores))
    assert int(called["HR"]) > 50 and int(called["bicubic"]) < 50 and int(called["SRResNet"]) < 50, called
    # "in eval mode the same network is much less sure, or plainly wrong"
    eval_mode = text.split("as in training")[0].split("eval mode (running BN statistics)")[1]
    eval_gap = _number_after(r"HR\s+mean D\(x\)", eval_mode) - _number_after(r"bicubic\s+mean D\(x\)", eval_mode)
    assert eval_gap < hr - _number_after(r"bicubic\s+mean D\(x\)", scores)


def _check_lesson_08(text: str) -> None:  # the file that would run code is refused, and it did not run
    assert "refused:" in text and "pwned.txt exists: False" in text


def _check_lesson_07(text: str) -> None:  # the course models on the built-in images, as the text reads them
    assert "Using SRResNet-MSE: the shipped course model" in text and "Using SRGAN-MSE: the shipped course model" in text
    assert "trained for" not in text  # the fast mode trains nothing
    # "SRResNet-MSE above bicubic in PSNR, SRGAN-MSE below SRResNet-MSE"
    assert _number_after(r"SRResNet-MSE - bicubic:", text) > 0
    assert _number_after(r"SRGAN-MSE - SRResNet-MSE:", text) < 0
    # "SRGAN-MSE's high-frequency energy is more than 1.4 times SRResNet-MSE's; bicubic's and SRResNet-MSE's
    # ratios are well below a quarter"
    assert _number_after(r"high-frequency energy ratio, SRGAN-MSE / SRResNet-MSE:", text) > 1.4
    for method in ("bicubic", "SRResNet-MSE"):
        assert _number_after(rf"  {method}\s+PSNR\s+[\d.]+ dB\s+high-frequency energy / HR's on builtin:", text) < 0.25
    # "the path runs from SRResNet-MSE (higher PSNR, little fine detail) to the SRGAN (lower PSNR, more detail)"
    path = re.search(r"PSNR ([\d.]+) dB at alpha=0 -> ([\d.]+) dB at alpha=1; (.+?): ([\d.]+) -> ([\d.]+)", text)
    assert path and float(path[1]) > float(path[2]), path and path[0]
    if "high-frequency" in path[3]:  # without VGG19 weights the y axis is the detail measure, not a random distance
        assert float(path[4]) < float(path[5]) and "random weights" not in text.split("Perceptual score:")[1][:200]


def _check_lesson_06(text: str) -> None:
    # "from the same starting point and batch, it must end with the same weights"
    assert "G's weights after the library's round equal those after ours: True" in text
    assert "D's weights after the library's round equal those after ours: True" in text
    # "without the pretrained weights ... its pull on G is weaker than the weighted adversarial term's"
    if "RANDOMLY initialised VGG19" in text:
        pull = re.search(r"gradient norm on sr_img: content ([-+.\de]+), 1e-3 x adversarial ([-+.\de]+)", text)
        assert pull and float(pull[1]) < float(pull[2]), pull and pull[0]
    # "with three times the learning rate D pulls ahead faster: its D(G(z)) ends lower"
    assert _number_after(r"D's learning rate x 3", text) < _number_after(r"last D\(G\(z\)\): the paper's settings", text)
    # "SRGAN-MSE is lower in PSNR than SRResNet-MSE and richer in high frequencies, nearer the photograph's"
    assert "Using SRResNet-MSE: the shipped course model" in text and "Using SRGAN-MSE: the shipped course model" in text
    assert _number_after(r"SRGAN-MSE - SRResNet-MSE:", text) < 0
    srresnet = _number_after(r"SRResNet-MSE\s+PSNR\s+[\d.]+ dB\s+high-frequency energy / HR's", text)
    srgan = _number_after(r"SRGAN-MSE\s+PSNR\s+[\d.]+ dB\s+high-frequency energy / HR's", text)
    assert abs(1 - srgan) < abs(1 - srresnet) and srgan > srresnet
    # "so the error map inside the zoom is brighter"
    zoom = re.search(r"inside the zoom, 8-bit levels: SRResNet-MSE ([\d.]+), SRGAN-MSE ([\d.]+)", text)
    assert zoom and float(zoom[2]) > float(zoom[1]), zoom and zoom[0]


# What a lesson's text tells the learner its output shows, checked on the executed copy.
LESSON_CLAIMS = {"01_degradation_model": _check_lesson_01, "02_baselines_mse_and_metrics": _check_lesson_02,
                 "03_srresnet": _check_lesson_03, "04_vgg_content_loss": _check_lesson_04,
                 "05_discriminator": _check_lesson_05, "06_adversarial_training": _check_lesson_06,
                 "07_evaluation_and_tradeoffs": _check_lesson_07, "08_scaling_up": _check_lesson_08}


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_in_fast_mode(path, tmp_path):
    output_path = ARTIFACTS / path.parent.name / path.name
    run = execute_notebook(path, output_path, cwd=tmp_path)
    executed = json.loads(output_path.read_text(encoding="utf-8"))
    if is_exercise(path):
        assert run.stopped_at_exercise
        return
    images = [
        out
        for cell in executed["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert images, f"{path.name} ran but showed no figure; every lesson shows real pictures"
    if path.parent.name == "notebooks" and path.stem in LESSON_CLAIMS:
        LESSON_CLAIMS[path.stem](_printed(executed))
    if marked_cells(executed):  # the second execution, in the same test so that it follows the first
        second = run_nbval(output_path, tmp_path / "nbval")
        assert second.returncode == 0, (
            f"{path.name}: a cell marked # NBVAL_CHECK_OUTPUT printed something else when the notebook "
            f"ran a second time (nbval --nbval-lax on {output_path}):\n{second.stdout[-6000:]}")


# --- nbval: a second execution must print what the first printed in the marked cells ---------

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def marked_cells(notebook: dict) -> list[int]:
    """Indices of the code cells whose output nbval --nbval-lax compares (a ``# NBVAL_CHECK_OUTPUT`` line)."""
    return [index for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"
            and any(line.strip() == CHECK_MARK for line in _source(cell).splitlines())]


def nbval_copy(executed_path: Path, copy_path: Path) -> Path:
    """The executed notebook (outputs kept) cut after its last marked cell: all nbval needs to run again."""
    notebook = json.loads(executed_path.read_text(encoding="utf-8"))
    marks = marked_cells(notebook)
    assert marks, f"{executed_path.name} has no cell marked {CHECK_MARK}"
    notebook["cells"] = notebook["cells"][: marks[-1] + 1]
    copy_path.parent.mkdir(parents=True, exist_ok=True)
    copy_path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return copy_path


class _NbvalReports:
    """A pytest plugin for the inner session: what passed and failed, with nbval's explanation."""

    def __init__(self) -> None:
        self.passed, self.failed = 0, []

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" and report.passed:
            self.passed += 1
        elif report.failed:
            self.failed.append(f"{report.nodeid}\n{report.longreprtext[-3000:]}")


@dataclass(frozen=True)
class NbvalRun:
    returncode: int  # pytest's exit code: 0 when every cell ran and every marked output matched
    stdout: str  # nbval's explanation of each failure, then "N failed, M passed"


def run_nbval(executed_path: Path, work_dir: Path) -> NbvalRun:
    """``pytest --nbval-lax`` on the cut copy of a papermill-executed notebook.

    It runs in this process (a pytest session inside the test, as pytester's in-process mode
    does), which saves the start of another Python with pytest and nbformat for every lesson; the
    kernel is a fresh one of this interpreter's environment, with the same thread settings as
    papermill's. The copy lies in ``work_dir``, which is also the kernel's working folder (files a
    lesson writes land there) and the inner session's root (the repository's conftest and options
    stay out of it); only the nbval plugin is loaded.
    """
    copy = nbval_copy(executed_path, work_dir / executed_path.name)
    reports = _NbvalReports()
    saved = {key: os.environ.get(key) for key in ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "MPLBACKEND")}
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # nbval only (named below): no xdist in the inner session
    os.environ.pop("MPLBACKEND", None)  # as for papermill's kernel: the figures keep the inline backend
    try:
        returncode = int(pytest.main(["-p", "nbval.plugin", "--nbval-lax", "--nbval-current-env", "-q", "--color=no",
                                      "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(work_dir), str(copy)],
                                     plugins=[reports]))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    summary = f"{len(reports.failed)} failed, {reports.passed} passed"
    return NbvalRun(returncode, "\n\n".join(reports.failed + [summary]))


LESSONS = [p for p in NOTEBOOKS if p.parent.name == "notebooks"]


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_lesson_marks_deterministic_cells_for_nbval(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    marks = marked_cells(notebook)
    assert marks, f"{path.name}: no cell marked {CHECK_MARK}; mark the cells whose output a second run must repeat"
    skipped = [i for i, cell in enumerate(notebook["cells"]) if "nbval-skip" in cell.get("metadata", {}).get("tags", [])]
    assert not set(marks) & set(skipped), f"{path.name}: cells {sorted(set(marks) & set(skipped))} are marked and skipped"


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


@pytest.mark.notebook
def test_nbval_fails_when_a_marked_output_changes(tmp_path):
    """The mechanism itself: nbval passes an unchanged executed copy, ignores unmarked noise, and
    fails a copy in which one marked output was altered (as a second run that printed another number)."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [("import time\nSEED = 3", []),
             (f"{CHECK_MARK}\nprint(f'parameters: {{sum(range(SEED * 100)):,}}')", [_stream("parameters: 44,850\n")]),
             ("print(f'took {time.perf_counter()} s')", [_stream("took 0.123 s\n")]),  # unmarked: may differ
             (f"{CHECK_MARK}\nprint(round(2 / 3, 4))", [_stream("0.6667\n")])]
    for count, (source, outputs) in enumerate(cells, start=1):
        cell = nbformat.v4.new_code_cell(source, execution_count=count)  # as papermill leaves it: a run cell
        cell.outputs = [nbformat.v4.new_output(**out) for out in outputs]
        notebook.cells.append(cell)
    executed = tmp_path / "executed.ipynb"
    nbformat.write(notebook, executed)
    same = run_nbval(executed, tmp_path / "same")
    assert same.returncode == 0, same.stdout

    notebook.cells[3].outputs[0]["text"] = "0.6666\n"  # a marked number changed in its last digit
    altered = tmp_path / "altered.ipynb"
    nbformat.write(notebook, altered)
    second = run_nbval(altered, tmp_path / "altered")
    assert second.returncode != 0 and "0.6666" in second.stdout and "1 failed" in second.stdout, second.stdout

    assert marked_cells(json.loads(executed.read_text())) == [1, 3]
    cut = json.loads(nbval_copy(executed, tmp_path / "cut.ipynb").read_text())
    assert len(cut["cells"]) == 4  # nothing after the last marked cell; here that is the whole notebook


def _first_lesson_of_each_library_call() -> dict[tuple[str, str], str]:
    """(module, name) of every srgan_edu function or class a lesson calls -> the first lesson's "NN"."""
    first: dict[tuple[str, str], str] = {}
    for path in LESSONS:
        source = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
        modules, objects = {}, {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "srgan_edu":
                modules.update({a.asname or a.name: f"srgan_edu.{a.name}" for a in node.names})
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("srgan_edu."):
                objects.update({a.asname or a.name: (node.module, a.name) for a in node.names})
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules:
                first.setdefault((modules[func.value.id], func.attr), path.name[:2])
            elif isinstance(func, ast.Name) and func.id in objects:
                first.setdefault(objects[func.id], path.name[:2])
    return first


def test_library_functions_a_lesson_calls_name_the_lesson_that_introduces_them():
    # "Say where the code is", the other way round: the docstring of every public function or
    # class a lesson calls says "Lesson NN" for the first lesson that calls it.
    import importlib

    missing = []
    for (module, name), lesson in sorted(_first_lesson_of_each_library_call().items()):
        obj = getattr(importlib.import_module(module), name, None)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and not re.search(rf"[Ll]esson {lesson}\b", obj.__doc__ or ""):
            missing.append(f"{module}.{name} (Lesson {lesson})")
    assert not missing, f"these docstrings do not name the lesson that introduces them: {missing}"
