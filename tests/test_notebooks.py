"""Every course notebook: committed clean, with a parameters cell, and executed in fast mode.

The static checks are quick; the executions (marker ``notebook``) run each notebook with
papermill exactly as ``make course`` does and keep the executed copies under
``test-artifacts/notebooks/`` for a look after a failure.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
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
    match = re.search(pattern + r"\s*([-+]?\d+(?:\.\d+)?)", text)
    assert match, f"the notebook did not print {pattern!r}"
    return float(match.group(1))


def _check_lesson_03(text: str) -> None:
    # "the small network beats bicubic on the held-out coffee photograph"
    assert _number_after(r"SRResNet - bicubic on coffee:", text) > 0
    # "the residual body does about 53 % of the multiply-adds; the x4 network costs about 1.8x a x1 one"
    assert round(_number_after(r"residual body:", text)) == 53
    assert abs(_number_after(r"x1 network of the same depth:", text) - 1.8) < 0.05
    # "the trained SRResNet beats bicubic on every test image, in PSNR and in SSIM"
    assert _number_after(r"SRResNet-MSE - bicubic on coffee:", text) > 0
    counts = re.search(r"beats bicubic: (\d+) of (\d+) in PSNR, (\d+) of (\d+) in SSIM", text)
    assert counts and counts[1] == counts[2] == counts[3] == counts[4] == "3", counts and counts[0]
    # "and its mean error is the lower of the two"
    errors = re.search(r"mean \|Y error\| in 8-bit levels: bicubic ([\d.]+), SRResNet-MSE ([\d.]+)", text)
    assert errors and float(errors[2]) < float(errors[1])


def _check_lesson_04(text: str) -> None:  # without weights the lesson must say its comparison is not meaningful
    from srgan_edu import vgg

    if not vgg.pretrained_weights_available():
        assert "RANDOM" in text and "not meaningful" in text


def _check_lesson_05(text: str) -> None:  # scored as in training, D ranks HR crops above both kinds of fakes
    scores = text.split("as in training")[1]
    hr = _number_after(r"HR\s+mean D\(x\)", scores)
    assert hr > _number_after(r"bicubic\s+mean D\(x\)", scores)
    assert hr > _number_after(r"SRResNet\s+mean D\(x\)", scores)


def _check_lesson_07(text: str) -> None:  # the course models on the built-in images, as the text reads them
    assert "Using SRResNet-MSE: the shipped course model" in text and "Using SRGAN-MSE: the shipped course model" in text
    assert "trained for" not in text  # the fast mode trains nothing
    # "SRResNet-MSE above bicubic in PSNR, SRGAN-MSE below SRResNet-MSE"
    assert _number_after(r"SRResNet-MSE - bicubic:", text) > 0
    assert _number_after(r"SRGAN-MSE - SRResNet-MSE:", text) < 0
    # "SRGAN-MSE's high-frequency energy is more than twice SRResNet-MSE's; bicubic's and SRResNet-MSE's ratios
    # are well below a quarter"
    assert _number_after(r"high-frequency energy ratio, SRGAN-MSE / SRResNet-MSE:", text) > 2
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
LESSON_CLAIMS = {"03_srresnet": _check_lesson_03, "04_vgg_content_loss": _check_lesson_04,
                 "05_discriminator": _check_lesson_05, "06_adversarial_training": _check_lesson_06,
                 "07_evaluation_and_tradeoffs": _check_lesson_07}


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
