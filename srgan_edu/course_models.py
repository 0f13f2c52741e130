"""The course models: a trained SRResNet-MSE and SRGAN-MSE that ship inside the package.

Lessons 03, 06 and 07 need trained networks, and most learners have no GPU. These two were
trained by the course's own command line (``python -m srgan_edu train ...``, the exact
commands are in each model's :attr:`CourseModel.meta` and in ``docs/models.md``) on 72
photographs of the Sun-Hays 80 scene set, none of which is in Set5, Set14 or BSD100, and
never on the built-in test images. They are the paper's generator (16 residual blocks,
64 feature maps, x4; sec. 2.1) trained for far fewer updates than the paper's 10^6: they
show the paper's effects, not its numbers.

Shipped as generator weights only, in the safetensors format (a flat table of tensors:
loading it runs no code, unlike a pickled model), at fp16, with a SHA-256 per file that is
checked before the file is read.

    >>> from srgan_edu import course_models
    >>> generator = course_models.load("SRResNet-MSE")  # (B, 3, h, w) [0, 1] -> (B, 3, 4h, 4w) [-1, 1]
    >>> course_models.CourseModel.SRGAN_MSE.meta["steps"]
"""

from __future__ import annotations

import enum
import hashlib
import importlib.resources
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from srgan_edu.checkpoints import load_trained_generator
from srgan_edu.datasets import file_sha256  # noqa: F401  (re-exported: the checksum a model card quotes)
from srgan_edu.srresnet import SRResNet

# The SHA-256 of each shipped weights file. It lives in the code, not beside the file, so
# that a replaced file is caught even when its description was replaced with it.
SHA256 = {
    "SRResNet-MSE": "f0b39148beabdfbf48fdb2d0b3db7aa5742b9352e0a7f3f870f62a4739e19a4e",
    "SRGAN-MSE": "2845220344ff5f6a260c5874c3497c5957dde479353b092e766b04ae694aed41",
}

# What a shipped generator may be built as: the paper's network and nothing larger, checked
# before any tensor is allocated.
_GENERATOR_KEYS = {"scale": int, "num_features": int, "num_blocks": int, "upsampler": str, "icnr": bool}


class CourseModelError(RuntimeError):
    """A shipped model file is missing, damaged or replaced; the message says what to do."""


class CourseModel(enum.Enum):
    """The trained generators that ship with the course (torchvision's ``Weights`` style).

    ``CourseModel("SRResNet-MSE")`` or ``CourseModel.SRRESNET_MSE``; :attr:`meta` tells how
    each was trained and what it measured.
    """

    SRRESNET_MSE = "SRResNet-MSE"  # the paper's SRResNet with the MSE loss (eq. 4)
    SRGAN_MSE = "SRGAN-MSE"  # SRGAN with the MSE content loss (eq. 3, 4, 6), from SRRESNET_MSE

    @property
    def stem(self) -> str:
        """The file name without suffix, e.g. ``srresnet_mse``."""
        return self.value.lower().replace("-", "_")

    @property
    def weights_path(self) -> Path:
        """The safetensors file inside the installed package."""
        return _models_dir() / f"{self.stem}.safetensors"

    @property
    def meta_path(self) -> Path:
        """The JSON file with the model's description (training data, command, measurements)."""
        return _models_dir() / f"{self.stem}.json"

    @property
    def meta(self) -> dict[str, Any]:
        """The model card's facts: data, steps, command, wall time, machine, date, measured scores."""
        try:
            return json.loads(self.meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CourseModelError(_missing(self, self.meta_path)) from None
        except (OSError, ValueError) as err:
            raise CourseModelError(f"{self.meta_path} cannot be read ({err}). {_reinstall()}") from err

    @property
    def is_shipped(self) -> bool:
        """Whether this installation has the model's files and a checksum for them."""
        return bool(SHA256.get(self.value)) and self.weights_path.is_file() and self.meta_path.is_file()


def _models_dir() -> Path:
    return Path(str(importlib.resources.files("srgan_edu") / "models"))


def _reinstall() -> str:
    return ("Restore the file: `git checkout -- srgan_edu/models` in a clone, or "
            "`pip install --force-reinstall --no-deps srgan-edu` for an installed package.")


def _missing(model: CourseModel, path: Path) -> str:
    return f"The course model {model.value} is not in this installation ({path} is missing). {_reinstall()}"


def names() -> list[str]:
    """The names :func:`load` takes, e.g. ``["SRResNet-MSE", "SRGAN-MSE"]``.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).
    """
    return [model.value for model in CourseModel]


def resolve(model: CourseModel | str) -> CourseModel:
    """A :class:`CourseModel` from itself or its name (case and ``_``/``-`` do not matter)."""
    if isinstance(model, CourseModel):
        return model
    wanted = str(model).strip().lower().replace("_", "-")
    for candidate in CourseModel:
        if candidate.value.lower() == wanted:
            return candidate
    raise ValueError(f"No course model called {model!r}; the course ships {', '.join(names())}.")


def _check_generator_config(config: Any, source: Path) -> dict[str, Any]:
    if not isinstance(config, dict) or set(config) != set(_GENERATOR_KEYS):
        raise CourseModelError(f"{source} describes a generator with keys {sorted(config) if isinstance(config, dict) else config!r}, "
                               f"not {sorted(_GENERATOR_KEYS)}. {_reinstall()}")
    for key, kind in _GENERATOR_KEYS.items():
        if type(config[key]) is not kind:
            raise CourseModelError(f"{source}: generator_config[{key!r}] is {config[key]!r}, not a {kind.__name__}. "
                                   f"{_reinstall()}")
    if config["scale"] not in (2, 4, 8) or not 1 <= config["num_features"] <= 256 or not 1 <= config["num_blocks"] <= 32:
        raise CourseModelError(f"{source}: generator_config {config} is outside what the course builds. {_reinstall()}")
    return config


def load(model: CourseModel | str, *, device: str | torch.device = "cpu") -> SRResNet:
    """A shipped course model, checked and rebuilt, in eval mode and fp32.

    Args:
        model: a :class:`CourseModel` or its name, ``"SRResNet-MSE"`` or ``"SRGAN-MSE"``.
        device: where to put it.

    Returns:
        The :class:`srgan_edu.srresnet.SRResNet`: lr_img (B, 3, h, w) in [0, 1] ->
        (B, 3, 4h, 4w) in [-1, 1].

    Raises:
        ValueError: an unknown name.
        CourseModelError: the file is missing, does not match its SHA-256 (damaged or
            replaced), or does not hold the generator its description says.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    model = resolve(model)
    path = model.weights_path
    expected = SHA256.get(model.value)
    if not path.is_file() or not expected:
        raise CourseModelError(_missing(model, path))
    payload = path.read_bytes()  # hashed and parsed from the same bytes: no swap in between
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected:
        raise CourseModelError(
            f"{path} does not match its SHA-256 (expected {expected[:16]}..., found {actual[:16]}...): the file is "
            f"damaged or was replaced, and was not loaded. {_reinstall()}")
    config = _check_generator_config(model.meta.get("generator_config"), model.meta_path)
    try:
        tensors = load_safetensors(payload)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise CourseModelError(f"{path} is not a readable safetensors file ({err}). {_reinstall()}") from err
    generator = SRResNet(**config)
    try:
        generator.load_state_dict({name: tensor.float() for name, tensor in tensors.items()})
    except RuntimeError as err:
        raise CourseModelError(f"{path} does not hold the weights of {model.value} ({err}). {_reinstall()}") from err
    if not all(torch.isfinite(p).all() for p in generator.state_dict().values() if p.is_floating_point()):
        raise CourseModelError(f"{path} holds weights that are not finite numbers. {_reinstall()}")
    return generator.to(device).eval()


def export_generator(generator: SRResNet, path: str | os.PathLike, *, dtype: torch.dtype = torch.float16) -> str:
    """Write a generator's weights as safetensors (fp16 by default), atomically; return the SHA-256.

    This is how the shipped files were made (``tools/make_course_models.py``); a learner can
    use it to share a model of their own without pickles.
    """
    from safetensors.torch import save as save_safetensors

    tensors = {name: (t.detach().to("cpu", dtype) if t.is_floating_point() else t.detach().cpu()).contiguous()
               for name, t in generator.state_dict().items()}
    payload = save_safetensors(tensors, metadata={"generator_config": json.dumps(generator.config)})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class ChosenModel:
    """A generator and where it came from, as a notebook reports it."""

    generator: SRResNet  # in eval mode
    name: str  # "SRResNet-MSE", "SRGAN-MSE", or the learner's label
    source: str  # one sentence: shipped, trained now, or read from a checkpoint

    def __str__(self) -> str:
        return f"{self.name}: {self.source}"


def load_or_train(model: CourseModel | str, *, checkpoint: str | os.PathLike | None = None,
                  train: Any = None, device: str | torch.device = "cpu", verbose: bool = True) -> ChosenModel:
    """The one way a lesson gets a trained generator: the shipped one, the learner's, or one trained now.

    Lesson 03 (``notebooks/03_srresnet.ipynb``).

    Args:
        model: which course model the lesson asks for (its name when nothing else is given).
        checkpoint: a training checkpoint of the learner's (the full mode): its generator is
            used instead of the shipped one.
        train: a function that trains and returns a generator (e.g. a lambda around
            :func:`srgan_edu.training.train_srresnet`), called only when given: a lesson's
            ``TRAIN_COURSE_MODELS`` parameter passes it. None: no training.
        device: where to put the generator.
        verbose: print which of the three it did.

    Returns:
        A :class:`ChosenModel`; ``str()`` of it says where the generator came from.
    """
    model = resolve(model)
    if checkpoint is not None:
        trained = load_trained_generator(checkpoint, map_location=device)
        chosen = ChosenModel(trained.generator, model.value,
                             f"your {trained.kind} checkpoint {checkpoint} (step {trained.step})")
    elif train is not None:
        generator = train()
        chosen = ChosenModel(generator.to(device).eval(), model.value, "trained just now in this notebook")
    else:
        meta = model.meta
        chosen = ChosenModel(load(model, device=device), model.value,
                             f"the shipped course model ({meta['steps']:,} updates on {meta['training_data']['summary']})")
    if verbose:
        print(f"Using {chosen}")
    return chosen
