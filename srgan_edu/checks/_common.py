"""What every exercise check shares: the error a failed check raises, calling the learner's code, comparing answers.

A check (one ``check_...`` function per exercise, in ``lessonNN.py``) runs the learner's
function on small cases it builds, compares the answers with the library's reference, and
either prints a short pass message or raises :class:`ExerciseError`. The helpers here call the
learner's code safely (:func:`_call`), turn answers into tensors, print numbers with enough
digits to differ (:func:`_digits`), find the largest discrepancy (:func:`_largest_gap`) and
name a mistake only when the answer equals that mistake's own answer (:func:`_which_mistake`).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import math
import os
import textwrap
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from srgan_edu.checks.hints import HINTS

class ExerciseError(AssertionError):
    """An exercise's answer is wrong; the message says what is likely wrong and how to fix it.

    A subclass of ``AssertionError``, so that ``nbgrader``'s autograder and ``pytest`` count
    it as a failed test. In a notebook IPython shows :meth:`_render_traceback_` instead of a
    traceback: one short block (the exercise, what is wrong, where to look), with only the
    lines of the learner's own code when their function raised. The cell still fails, so
    "Run All" and papermill stop there.
    """

    def _render_traceback_(self) -> list[str]:
        lines = ["\u2717 " + line for line in textwrap.wrap(str(self), width=100)[:1]]
        lines += ["  " + line for line in textwrap.wrap(str(self), width=100)[1:]]
        lines += _learner_frames(self.__cause__)
        return lines


def _learner_frames(error: BaseException | None) -> list[str]:
    """The traceback lines of ``error`` that lie in the learner's code (not this library, not torch)."""
    if error is None or error.__traceback__ is None:
        return []
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # srgan_edu/
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not os.path.abspath(frame.filename).startswith((package, torch_dir))]
    if not frames:
        return []
    return ["  in your code:"] + ["    " + line.rstrip("\n") for line in traceback.format_list(frames[-3:])]


def _name(function: Any) -> str:
    return getattr(function, "__name__", None) or type(function).__name__


def _describe(value: Any) -> str:
    """A short description of an argument for an error message."""
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}"
    if isinstance(value, nn.Module):
        return type(value).__name__
    if isinstance(value, torch.optim.Optimizer):
        group = value.param_groups[0] if value.param_groups else {}
        return f"{type(value).__name__}(lr={group.get('lr')})"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"{type(value).__name__} of {len(value)} values"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


# Errors whose PyTorch message rarely tells a learner what to change.
_ERROR_HINTS = (
    ("modified by an inplace operation",
     "Usually optimizer.step() ran before loss.backward() (the order is zero_grad, backward, step), or an "
     "in-place operation (+=, inplace=True) changed a tensor that the backward pass needs. "),
    ("does not require grad and does not have a grad_fn",
     "The loss has no graph: something was detached, computed under torch.no_grad(), or turned into a number. "),
    ("a leaf Variable that requires grad is being used in an in-place operation",
     "An in-place operation (x -= ..., x.sigmoid_(), x[...] = ...) tried to change one of your inputs; the caller "
     "still needs them. Write x = x - ... (a new tensor) instead. "),
    ("Trying to backward through the graph a second time",
     "The same graph was used for two backward passes: in D's step, score sr_img.detach(). "),
)


def _call(exercise: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``function``; NotImplementedError passes, other errors are explained."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except ExerciseError:
        raise
    except Exception as err:
        arguments = [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]
        hint = next((text for clue, text in _ERROR_HINTS if clue in str(err)), "")
        raise ExerciseError(
            f"{exercise}: {_name(function)}({', '.join(arguments)}) raised {type(err).__name__}: {err}. "
            f"{hint}The lines below are the ones in your code."
        ) from err


def _lacks_argument(function: Callable, name: str) -> bool:
    """True only when ``function``'s signature can be read and takes neither ``name`` nor ``**kwargs``."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return bool(parameters) and name not in parameters and not any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _fail(exercise: str, message: str) -> ExerciseError:
    number = _number(exercise)
    pointer = f" (stuck? checks.hint(\"{number}\"))" if number in HINTS else ""
    return ExerciseError(f"{exercise}: {message}{pointer}")


def _number(exercise: str) -> str:
    """ "Exercise 2.3 (the MSE-optimal guess)" -> "2.3"."""
    parts = exercise.split()
    return parts[1] if len(parts) > 1 else exercise


def _digits(got: float, expected: float) -> tuple[str, str]:
    """``got`` and ``expected`` printed with just enough significant digits to tell them apart."""
    for digits in range(4, 17):
        a, b = f"{got:.{digits}g}", f"{expected:.{digits}g}"
        if a != b or got == expected:
            return a, b
    return repr(got), repr(expected)


def _earlier(function: Callable, name: str, reference: Callable) -> Callable | None:
    """The learner's own ``name`` (an earlier exercise's function) that ``function`` can see, if not the library's."""
    candidate = getattr(function, "__globals__", {}).get(name)
    if callable(candidate) and candidate is not reference and getattr(candidate, "__module__", "") != reference.__module__:
        return candidate
    return None


def _largest_gap(got: torch.Tensor, expected: torch.Tensor, layout: str = "") -> str:
    """Where ``got`` is furthest from ``expected``: "at [c, y, x] = (0, 2, 3) you give ..., expected ..."."""
    gap = (got - expected).abs()
    if gap.isnan().any():
        index = tuple(int(i) for i in torch.nonzero(gap.isnan())[0])
    else:
        index = tuple(int(i) for i in torch.unravel_index(gap.argmax(), gap.shape))
    a, b = _digits(float(got[index]), float(expected[index]))
    where = f"{layout} = {index}" if layout else f"{index}"
    return f"the largest difference is at {where}: you give {a}, expected {b}"


def _sentence(text: str) -> str:
    """``text`` with its first letter capitalised, to follow another sentence."""
    return text[:1].upper() + text[1:]


def _passed(exercise: str, message: str) -> None:
    print(f"{exercise} passed: {message}")


def _as_tensor(exercise: str, value: Any, what: str) -> torch.Tensor:
    """The learner's answer as a float64 tensor (a number, an array or a tensor is accepted)."""
    if value is None:
        raise _fail(exercise, f"{what} returned None. Did you forget the `return` statement?")
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64)
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise _fail(exercise, f"{what} should return a tensor or a number, got {type(value).__name__}") from err


def _as_float(exercise: str, value: Any, what: str) -> float:
    tensor = _as_tensor(exercise, value, what)
    if tensor.numel() != 1:
        raise _fail(exercise, f"{what} should return one number, got a tensor of shape {tuple(tensor.shape)}")
    return float(tensor.reshape(()))


def _close(a: torch.Tensor | float, b: torch.Tensor | float, *, rtol: float = 1e-4, atol: float | None = None) -> bool:
    """``a`` equals ``b`` within ``rtol``; without ``atol``, within ``rtol`` times the largest |b|.

    The default keeps the tolerance what it says for expected values of any size (an absolute
    1e-6 against values of 4e-5 would make an rtol of 1e-4 a real 2.5 %), while values near
    zero inside a tensor are still compared on the tensor's own scale. It is exactly that
    (|a - b| <= rtol * max |b|), not atol + rtol * |b|, which for one number would be twice rtol.
    """
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape:
        return False
    if atol is None:
        atol = rtol * float(b.abs().max()) if b.numel() and bool(torch.isfinite(b).all()) else 0.0
        rtol = 0.0 if atol > 0 else rtol
    return bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=False))


def _which_mistake(
    got: torch.Tensor | float,
    mistakes: Sequence[tuple[str, Callable[[], Any]]],
    *,
    rtol: float = 1e-4,
    atol: float | None = None,
) -> str | None:
    """The description of the first known mistake whose answer equals ``got`` (None: unknown)."""
    for description, compute in mistakes:
        try:
            expected = compute()
        except Exception:  # a mistake that cannot even be computed for this case is not it
            continue
        if _close(got, expected, rtol=rtol, atol=atol):
            return description
    return None


@contextlib.contextmanager
def _seeded(seed: int = 0) -> Iterator[torch.Generator]:
    """A private random state: module initialisation inside is repeatable and the notebook's
    global random state is the same afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


def _single_threaded(check: Callable) -> Callable:
    """Run a check on one CPU thread (restored afterwards).

    The checks work on tiny tensors, for which several threads only wait on each other: on a
    busy machine (a shared CI runner) one thread is many times faster.
    """

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return check(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return wrapper


def _calls(function: Callable, names: Sequence[str]) -> str | None:
    """The first of ``names`` that ``function``'s code calls (``F.name(...)``, ``name(...)``), else None.

    Comments, docstrings and strings do not count. Functions without source (built-ins,
    lambdas typed at a console) give None.
    """

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", None)
            if name in names:
                return name
    return None


def _unchanged(exercise: str, given: Sequence[tuple[str, torch.Tensor, torch.Tensor]]) -> None:
    """Fail when the learner's function changed one of its input tensors in place.

    ``given`` holds (name, the tensor the learner got, a copy taken before the call).
    """
    for name, tensor, before in given:
        if tensor.shape != before.shape or not torch.equal(tensor.detach().cpu(), before.detach().cpu()):
            raise _fail(exercise, f"your function changed its input {name} in place (an operation ending in _, such "
                                  "as sigmoid_() or clamp_(), or `x += ...`, `x[...] = ...`). The caller still needs "
                                  "it: use operations that return new tensors.")


def _gap_text(got: float, expected: float) -> str:
    """ "you give 1.3863, expected 1.2054 (15 % too high)": digits that differ and the relative gap."""
    a, b = _digits(got, expected)
    if expected == 0 or not math.isfinite(got):
        return f"you give {a}, expected {b}"
    return f"you give {a}, expected {b} ({abs(got - expected) / abs(expected):.3g} relative, too {'high' if got > expected else 'low'})"


def _which_input(function: Callable, inputs: Sequence[torch.Tensor], reference: Callable, names: Sequence[str],
                 *, shift: float = 0.37) -> str:
    """Which of the learner's inputs their function treats differently from ``reference``.

    Each input in turn is shifted by ``shift`` while the others stay; where the learner's value
    moves differently from the reference's, that input's part of the formula is the one to check.
    Returns advice such as "check how you use fake_logits".
    """
    try:
        base_got = float(function(*[x.clone() for x in inputs]))
        base_ref = float(reference(*[x.clone() for x in inputs]))
        wrong = []
        for index, name in enumerate(names):
            moved = [x.clone() + shift if i == index else x.clone() for i, x in enumerate(inputs)]
            delta_got = float(function(*moved)) - base_got
            delta_ref = float(reference(*moved)) - base_ref
            if not math.isclose(delta_got, delta_ref, rel_tol=1e-3, abs_tol=1e-7 * max(1.0, abs(base_ref))):
                wrong.append(name)
    except Exception:
        return "check each term of your formula"
    if len(wrong) == 1:
        return f"your loss responds to {wrong[0]} differently from the reference, so check the term with {wrong[0]}"
    if not wrong:
        return "each input moves your loss as it should, so check a constant: a factor or an added term"
    return "your loss responds differently to " + " and to ".join(wrong) + ", so check each term"
