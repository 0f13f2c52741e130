"""Checkpoints: save a training run safely, resume it exactly, load it without running code (lessons 06 and 08).

A checkpoint is one file written by ``torch.save`` holding plain data only: tensors,
lists, dicts, strings and numbers. Training (:mod:`srgan_edu.training`) stores in it

- ``kind`` (``"srresnet"`` or ``"srgan"``) and the networks' constructor arguments
  (``generator_config``, ``discriminator_config``), so that a checkpoint of another model
  or scale is refused with a message instead of loading half its weights;
- the weights, both optimisers, the learning-rate schedulers and the gradient scalers;
- the step, the training history and the validation history;
- every random number generator state (PyTorch CPU and CUDA, NumPy, Python's ``random``)
  and the position of the data stream, so that a resumed run draws the very batches the
  uninterrupted run would have drawn.

Three habits make checkpoints trustworthy:

1. **Atomic writes.** The file is written under a temporary name beside its destination
   and renamed with ``os.replace``; a run killed mid-save leaves the previous checkpoint
   intact, never a truncated one.
2. **Keep the last N and the best.** ``step_00001000.pt`` files beyond the last
   ``keep_last`` are deleted; ``best.pt`` holds the one with the best validation score.
3. **Load with ``weights_only=True``.** A pickle can run any code when it is loaded.
   Learners download checkpoints from strangers, so :func:`load_checkpoint` only accepts
   files made of plain data, and says why it refused one.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from srgan_edu.srresnet import SRResNet

KINDS = ("srresnet", "srgan")  # what a training checkpoint can hold: the two rows of the paper's table
CHECKPOINT_FORMAT = 1  # bumped when the layout of the saved dict changes
STEP_FILE = re.compile(r"^step_(\d+)\.pt$")
BEST_FILE = "best.pt"


class CheckpointError(RuntimeError):
    """A checkpoint could not be read, or was refused as unsafe."""


class CheckpointMismatchError(ValueError):
    """A checkpoint holds another kind of model, or the same model with other settings."""


# --- writing and reading ----------------------------------------------------------------


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on leaving the block, flush it to disk and rename it to ``path``.

    A full disk or a kill mid-write leaves the previous file intact instead of a truncated one,
    and an error leaves no temporary behind. ``mode`` is ``"w"`` (text, UTF-8) or ``"wb"``.

    Raises:
        OSError: the folder is not writable, the disk is full, or ``path`` is a folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name (for example {path / 'results.json'}).")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"newline": "", "encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_open`): history files, ``--json`` results."""
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)


TEMPORARY_FILE = re.compile(r"^\.(.+)\.tmp(\d+)$")  # what save_checkpoint and atomic_write_text leave when killed


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries (``.NAME.tmpPID``) that a killed save left in ``folder``.

    Only files of processes that are no longer running are removed: another process still
    writing its checkpoint keeps its file.

    Returns:
        The files removed (say so to the user: they can be hundreds of megabytes).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        match = TEMPORARY_FILE.match(path.name)
        if not match or not path.is_file() or _process_alive(int(match.group(2))):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a file of ours from an earlier, killed run that had the same pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else (or cannot tell): leave it
    return True


# The SRResNet settings the course supports; a checkpoint asking for more is refused before any
# network is built (a 4096-feature config would allocate about 19 GB first).
GENERATOR_CONFIG_LIMITS: dict[str, tuple] = {
    "scale": (2, 4, 8),  # allowed values
    "num_features": (1, 256),  # inclusive range (the paper: 64)
    "num_blocks": (0, 64),  # inclusive range (the paper: 16)
    "upsampler": ("pixel_shuffle", "transposed"),
    "icnr": (False, True),
}


def validate_generator_config(config: Any, *, source: str | os.PathLike = "the checkpoint") -> dict[str, Any]:
    """Check an SRResNet ``generator_config``: known keys, their types, the ranges the course supports.

    Returns:
        The config as a plain dict (missing keys keep SRResNet's defaults).

    Raises:
        CheckpointError: naming the key that is unknown, of the wrong type or out of range.
    """
    if not isinstance(config, dict):
        raise CheckpointError(f"{source}: generator_config is a {type(config).__name__}, not a dict of settings.")
    unknown = sorted(map(str, set(config) - set(GENERATOR_CONFIG_LIMITS)))
    if unknown:
        raise CheckpointError(f"{source}: generator_config has unknown settings {unknown}; srgan-edu's SRResNet "
                              f"takes {sorted(GENERATOR_CONFIG_LIMITS)}. Use a checkpoint written by srgan-edu.")
    for key, value in config.items():
        allowed = GENERATOR_CONFIG_LIMITS[key]
        if key in ("num_features", "num_blocks"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise CheckpointError(f"{source}: generator_config {key}={value!r} is not an integer.")
            if not allowed[0] <= value <= allowed[1]:
                raise CheckpointError(f"{source}: generator_config {key}={value} is outside the range the course "
                                      f"supports ({allowed[0]} to {allowed[1]}); refused before building the network.")
        elif key == "icnr" and not isinstance(value, bool):
            raise CheckpointError(f"{source}: generator_config icnr={value!r} is not True or False.")
        elif value not in allowed or isinstance(value, bool) != (key == "icnr"):
            raise CheckpointError(f"{source}: generator_config {key}={value!r}; the course supports "
                                  f"{', '.join(map(repr, allowed))}.")
    return dict(config)


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file in the same folder, then rename).

    Args:
        state: plain data only (tensors, lists, tuples, dicts, str, numbers, None), so that
            :func:`load_checkpoint` can read it back with ``weights_only=True``.
        path: the destination; parent folders are created.

    Returns:
        The path written.
    """
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(..., weights_only=True)``: data only, no code.

    Lesson 08 (``notebooks/08_scaling_up.ipynb``).

    Args:
        path: a file written by :func:`save_checkpoint` (or by ``torch.save`` of plain data).
        map_location: where tensors are placed (``"cpu"`` works on every machine).

    Returns:
        The saved dict.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is not a checkpoint, is damaged, or contains Python
            objects that would run code when unpickled (refused; the message says why).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path} (resolved from {Path.cwd()}).")
    if not looks_like_torch_file(path):
        raise CheckpointError(
            f"Cannot read {path} as a checkpoint: it is not a PyTorch file at all (it does not start like one: not a zip archive or a pickle; "
            f"perhaps a text file, an image or a download that failed). Give a checkpoint written by srgan-edu "
            f"(RUN_DIR/checkpoints/step_*.pt or best.pt).")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"Refused to load {path}: it contains Python objects beyond plain data (tensors, lists, dicts, "
            f"numbers, strings), and unpickling such objects can run arbitrary code on this machine. "
            f"srgan-edu loads checkpoints with torch.load(..., weights_only=True) and never without it. "
            f"If you made this file yourself and trust it, re-save only its tensors and plain data. "
            f"(PyTorch said: {_reason(err)})"
        ) from err
    except (RuntimeError, EOFError, OSError, ValueError, KeyError) as err:
        raise CheckpointError(
            f"Cannot read {path} as a checkpoint ({type(err).__name__}: {err}). The file is damaged or "
            f"truncated (a copy or download that did not finish?)."
        ) from err
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a checkpoint dict.")
    return state


def looks_like_torch_file(path: str | os.PathLike) -> bool:
    """Whether a file starts as ``torch.save`` writes: a zip archive, or (older format) a pickle."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _reason(err: Exception) -> str:
    """The informative line of PyTorch's long weights_only message (which global it refused)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if "WeightsUnpickler error" in line or "Unsupported" in line:
            return line
    return lines[0] if lines else type(err).__name__


def describe(state: dict[str, Any]) -> str:
    """One line about a checkpoint: model kind, step, generator settings.

    Lesson 08 (``notebooks/08_scaling_up.ipynb``).
    """
    config = state.get("generator_config", {})
    settings = ", ".join(f"{key}={value}" for key, value in config.items())
    return f"{state.get('kind', 'unknown model')} at step {state.get('step', '?')} ({settings})"


def check_compatible(
    state: dict[str, Any],
    *,
    kinds: tuple[str, ...],
    generator_config: dict[str, Any] | None = None,
    discriminator_config: dict[str, Any] | None = None,
    source: str | os.PathLike = "the checkpoint",
) -> None:
    """Raise a clear error unless the checkpoint holds the expected kind of model and settings.

    Args:
        state: a loaded checkpoint.
        kinds: the model kinds that are acceptable, e.g. ``("srresnet", "srgan")`` for a generator.
        generator_config: the ``SRResNet.config`` it must match (None: not checked).
        discriminator_config: the ``Discriminator.config`` it must match (None: not checked).
        source: the file, for the message.

    Raises:
        CheckpointMismatchError: naming every setting that differs.
    """
    if state.get("format") != CHECKPOINT_FORMAT or "kind" not in state:
        raise CheckpointMismatchError(
            f"{source} is not an srgan-edu training checkpoint (no 'kind'/'format' entries; its keys are "
            f"{sorted(state)[:8]}). Use a file written by srgan_edu.training (RUN_DIR/checkpoints/*.pt)."
        )
    if state["kind"] not in kinds:
        raise CheckpointMismatchError(
            f"{source} holds a {state['kind']!r} run, but {' or '.join(map(repr, kinds))} is needed here."
        )
    problems = []
    for name, expected in (("generator", generator_config), ("discriminator", discriminator_config)):
        if expected is None:
            continue
        saved = state.get(f"{name}_config") or {}
        for key in sorted(set(saved) | set(expected)):
            if saved.get(key) != expected.get(key):
                problems.append(f"{name} {key}: checkpoint {saved.get(key)!r}, here {expected.get(key)!r}")
    if problems:
        raise CheckpointMismatchError(
            f"{source} was trained with other network settings ({'; '.join(problems)}). Build the networks "
            f"with the checkpoint's settings (checkpoints.load_generator(path) does this for the generator), "
            f"or start a new run in another folder."
        )


# --- random number generator states, as plain data ------------------------------------------


def capture_rng_states() -> dict[str, Any]:
    """Every global random number generator's state, as tensors and numbers (weights_only-safe).

    Returns:
        ``{"torch_cpu": ByteTensor, "torch_cuda": [ByteTensor per GPU], "numpy": {...},
        "python": {...}}``.
    """
    numpy_state = np.random.get_state()  # ("MT19937", keys (624,) uint32, pos, has_gauss, cached_gaussian)
    python_version, python_internal, python_gauss = random.getstate()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    return {
        "torch_cpu": torch.get_rng_state(),
        "torch_cuda": list(cuda_states),
        "numpy": {
            "bit_generator": str(numpy_state[0]),
            "keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
            "pos": int(numpy_state[2]),
            "has_gauss": int(numpy_state[3]),
            "cached_gaussian": float(numpy_state[4]),
        },
        "python": {
            "version": int(python_version),
            "internal": torch.tensor(python_internal, dtype=torch.int64),
            "gauss_next": python_gauss,
        },
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    """Put back the states saved by :func:`capture_rng_states`.

    CUDA states are restored only where the same number of GPUs is present (a checkpoint
    made on a GPU still resumes on a CPU; its CUDA states are then irrelevant).
    """
    torch.set_rng_state(states["torch_cpu"].to("cpu", torch.uint8))
    cuda_states = states.get("torch_cuda") or []
    if cuda_states and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda_states):
        torch.cuda.set_rng_state_all([state.to("cpu", torch.uint8) for state in cuda_states])
    numpy_state = states["numpy"]
    np.random.set_state((
        numpy_state["bit_generator"],
        numpy_state["keys"].numpy().astype(np.uint32),
        numpy_state["pos"],
        numpy_state["has_gauss"],
        numpy_state["cached_gaussian"],
    ))
    python_state = states["python"]
    random.setstate((python_state["version"], tuple(int(v) for v in python_state["internal"].tolist()),
                     python_state["gauss_next"]))


# --- a folder of checkpoints: keep the last N and the best ------------------------------------


class CheckpointManager:
    """The checkpoints of one run in one folder: ``step_XXXXXXXX.pt`` (the last N) and ``best.pt``.

    Lesson 08 (``notebooks/08_scaling_up.ipynb``).

    Args:
        folder: where the files go (created on the first save).
        keep_last: how many step checkpoints to keep (older ones are deleted); at least 1.
    """

    def __init__(self, folder: str | os.PathLike, *, keep_last: int = 3) -> None:
        if keep_last < 1:
            raise ValueError(f"keep_last must be at least 1, got {keep_last}")
        self.folder = Path(folder)
        self.keep_last = keep_last

    def step_files(self) -> list[tuple[int, Path]]:
        """(step, path) of every step checkpoint, oldest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            match = STEP_FILE.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def latest(self) -> Path | None:
        """The newest step checkpoint, or None."""
        files = self.step_files()
        return files[-1][1] if files else None

    def best(self) -> Path | None:
        """``best.pt`` if it exists."""
        path = self.folder / BEST_FILE
        return path if path.is_file() else None

    def save(self, state: dict[str, Any], *, step: int, is_best: bool = False) -> Path:
        """Write ``step_{step:08d}.pt`` atomically, copy it to ``best.pt`` if ``is_best``, prune old ones.

        Returns:
            The step checkpoint's path.
        """
        path = save_checkpoint(state, self.folder / f"step_{step:08d}.pt")
        if is_best:
            tmp = self.folder / f".{BEST_FILE}.tmp{os.getpid()}"
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, self.folder / BEST_FILE)
            finally:
                tmp.unlink(missing_ok=True)
        for _, old in self.step_files()[: -self.keep_last]:
            old.unlink(missing_ok=True)
        return path

    def save_best(self, state: dict[str, Any]) -> Path:
        """Write ``best.pt`` alone (atomically), for a validation that falls between step checkpoints."""
        return save_checkpoint(state, self.folder / BEST_FILE)


# --- loading a trained generator (lessons 05-08) ----------------------------------------------


@dataclass(frozen=True)
class TrainedGenerator:
    """A generator read from a training checkpoint, with what it was trained as."""

    generator: SRResNet  # in eval mode
    kind: str  # "srresnet" or "srgan": which row of the paper's table to compare it with
    step: int  # the training step the checkpoint was written at


def load_trained_generator(path: str | os.PathLike, *,
                           map_location: str | torch.device = "cpu") -> TrainedGenerator:
    """:func:`load_generator`, also saying whether it was trained as SRResNet or SRGAN and for how long."""
    state = load_checkpoint(path, map_location=map_location)
    check_compatible(state, kinds=KINDS, source=path)
    config = validate_generator_config(state.get("generator_config", {}), source=path)
    weights = state.get("generator")
    if not isinstance(weights, dict) or not all(isinstance(value, torch.Tensor) for value in weights.values()):
        raise CheckpointError(f"{path} holds no generator weights (its 'generator' entry is a "
                                          f"{type(weights).__name__}, not a dict of tensors).")
    generator = SRResNet(**config)
    try:
        generator.load_state_dict(weights)
    except (RuntimeError, TypeError, KeyError) as err:
        first = str(err).strip().splitlines()
        raise CheckpointError(
            f"{path}: its generator weights do not fit the network its own settings describe "
            f"({first[1].strip() if len(first) > 1 else first[0]}...). The file was edited or mixed from two runs; "
            f"use another checkpoint of the run.") from err
    broken = [name for name, value in weights.items() if value.is_floating_point() and not torch.isfinite(value).all()]
    if broken:
        raise CheckpointError(
            f"{path}: {len(broken)} generator weight tensor(s) hold NaN or infinite values ({', '.join(broken[:3])}): "
            f"the run had diverged when it was saved. Use an earlier checkpoint of the run.")
    return TrainedGenerator(generator.to(map_location).eval(), state["kind"], int(state["step"]))


def load_generator(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> SRResNet:
    """The SRResNet saved in a training checkpoint, rebuilt from the checkpoint's own settings.

    Lesson 05 (``notebooks/05_discriminator.ipynb``).

    Works for SRResNet and SRGAN checkpoints (the generator of both is an SRResNet). The file
    is read with ``weights_only=True``: a checkpoint that would run code is refused.

    Args:
        path: a checkpoint written by :func:`srgan_edu.training.train_srresnet` or ``train_srgan``
            (``RUN_DIR/checkpoints/step_*.pt`` or ``best.pt``).
        map_location: where to put the weights.

    Returns:
        The generator in eval mode, on ``map_location``.

    Raises:
        CheckpointError: the file is unreadable or unsafe.
        CheckpointMismatchError: the file is not an srgan-edu training checkpoint.
    """
    return load_trained_generator(path, map_location=map_location).generator
