"""VGG19 feature maps phi_i,j by name, for the content loss of eq. 5 (Ledig et al., CVPR 2017), lesson 04.

The paper defines phi_i,j as "the feature map obtained by the j-th convolution (after
activation) before the i-th maxpooling layer within the VGG19 network". Here that map is
called ``relu{i}_{j}``: phi_5,4 (SRGAN's content loss) is ``"relu5_4"`` and phi_2,2 (the
paper's low-level variant) is ``"relu2_2"``. The maps before the activation are
``conv{i}_{j}`` and the pooling layers ``pool{i}``. :data:`LAYER_INDICES` gives each name's
index in ``torchvision.models.vgg19().features``.

Weights are a deliberate, visible choice, as in torchvision (``vgg19(*, weights=...)``):

- ``VGG19_Weights.IMAGENET1K_V1`` (or its name as a string): the ImageNet weights the paper
  used, from ``$SRGAN_EDU_VGG19_WEIGHTS`` when that variable names a file, else from
  torchvision's usual cache (``torch.hub.get_dir()/checkpoints/vgg19-dcbb9e9d.pth``),
  downloading them there (about 550 MB) when they are missing;
- a path to a state-dict file (for a machine without internet);
- ``None``: random weights, for a code-only run. They must be asked for; nothing ever
  falls back to them silently, because a loss built on random features trains a
  generator towards nothing in particular.

When the weights can be neither found nor downloaded, the error says which file is
needed, where to put it, and how to ask for random weights instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Union

import torch
from torch import nn
from torchvision.models import VGG19_Weights, vgg19

from srgan_edu.checkpoints import _reason, looks_like_torch_file

ENV_VARIABLE = "SRGAN_EDU_VGG19_WEIGHTS"
PRETRAINED = VGG19_Weights.IMAGENET1K_V1
WEIGHTS_URL = PRETRAINED.url  # https://download.pytorch.org/models/vgg19-dcbb9e9d.pth
WEIGHTS_FILE = WEIGHTS_URL.rsplit("/", 1)[-1]  # vgg19-dcbb9e9d.pth
WEIGHTS_SIZE = "about 550 MB"

# ImageNet statistics the pretrained weights expect, applied to inputs in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

INPUT_RANGES = ("signed", "unit")

Weights = Union[VGG19_Weights, str, os.PathLike, None]


def _layer_indices() -> dict[str, int]:
    """conv{i}_{j}, relu{i}_{j}, pool{i} -> index in torchvision's vgg19().features."""
    convs_per_block = (2, 2, 4, 4, 4)  # VGG19, configuration "E" of Simonyan & Zisserman
    names: dict[str, int] = {}
    index = 0
    for block, num_convs in enumerate(convs_per_block, start=1):
        for conv in range(1, num_convs + 1):
            names[f"conv{block}_{conv}"] = index
            names[f"relu{block}_{conv}"] = index + 1
            index += 2
        names[f"pool{block}"] = index
        index += 1
    return names


LAYER_INDICES: dict[str, int] = _layer_indices()  # e.g. relu2_2 -> 8, relu5_4 -> 35
_CONV_INDICES = tuple(index for name, index in LAYER_INDICES.items() if name.startswith("conv"))


class VGGWeightsNotFoundError(FileNotFoundError):
    """The pretrained VGG19 weights are neither on this machine nor downloadable."""


def cached_weights_path() -> Path:
    """Where torchvision keeps (or would download) the pretrained VGG19 weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def _env_weights_path() -> Path | None:
    value = os.environ.get(ENV_VARIABLE, "").strip()
    return Path(value).expanduser() if value else None


def pretrained_weights_available() -> bool:
    """True when the pretrained weights are on this machine ($SRGAN_EDU_VGG19_WEIGHTS or the cache).

    Never downloads anything.
    """
    env_path = _env_weights_path()
    if env_path is not None:
        return env_path.is_file()
    return cached_weights_path().is_file()


def _how_to_get_weights() -> str:
    return (
        f"The file needed is {WEIGHTS_FILE} ({WEIGHTS_SIZE}, torchvision's VGG19_Weights.IMAGENET1K_V1) "
        f"from {WEIGHTS_URL}. Either put it at {cached_weights_path()} (torchvision's cache; set TORCH_HOME to "
        f"move it), or anywhere and set {ENV_VARIABLE}=/path/to/{WEIGHTS_FILE} (or pass weights='/path/to/"
        f"{WEIGHTS_FILE}'). With internet, srgan_edu.vgg.download_weights() fetches it into the cache. For a "
        f"code-only run, ask for random weights explicitly with weights=None (the features are then "
        f"meaningless)."
    )


def describe_weights_location() -> str:
    """One line for the environment report (lesson 00): where the VGG19 weights are, or what to do.

    Lesson 04 (``notebooks/04_vgg_content_loss.ipynb``).
    """
    env_path = _env_weights_path()
    if env_path is not None:
        if env_path.is_file():
            return f"pretrained, from ${ENV_VARIABLE} = {env_path}"
        return (f"MISSING: ${ENV_VARIABLE} names {env_path}, which does not exist. Put {WEIGHTS_FILE} there "
                f"({WEIGHTS_SIZE}, from {WEIGHTS_URL}) or unset the variable.")
    cached = cached_weights_path()
    if cached.is_file():
        return f"pretrained, in torchvision's cache at {cached}"
    return (f"not on this machine: lessons 04-07 will use random VGG19 features (not meaningful). "
            f"{_how_to_get_weights()}")


def download_weights(*, progress: bool = True) -> Path:
    """Download the pretrained VGG19 weights into torchvision's cache (once; about 550 MB).

    Returns:
        The path of the cached file.

    Raises:
        VGGWeightsNotFoundError: the download failed; the message says how to place the file by hand.
    """
    path = cached_weights_path()
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    hash_prefix = WEIGHTS_FILE.rsplit("-", 1)[-1].split(".")[0]  # torch hub's sha256 prefix: dcbb9e9d
    try:
        torch.hub.download_url_to_file(WEIGHTS_URL, str(path), hash_prefix=hash_prefix, progress=progress)
    except Exception as err:  # no network, proxy, disk full, a corrupted download ...
        raise VGGWeightsNotFoundError(
            f"The pretrained VGG19 weights are not on this machine and could not be downloaded "
            f"({type(err).__name__}: {err}). {_how_to_get_weights()}"
        ) from err
    return path


def course_weights(verbose: bool = True) -> VGG19_Weights | None:
    """The weights a notebook should use: the pretrained ones when present, else None (random).

    Lesson 04 (``notebooks/04_vgg_content_loss.ipynb``).

    Never downloads. With random weights it says so, in words, because every VGG number that
    follows is then not meaningful.

    Args:
        verbose: print one sentence about the choice.

    Returns:
        ``VGG19_Weights.IMAGENET1K_V1`` (found via $SRGAN_EDU_VGG19_WEIGHTS or the cache) or None.
    """
    if pretrained_weights_available():
        if verbose:
            print(f"VGG19: using the pretrained ImageNet weights ({describe_weights_location()}).")
        return PRETRAINED
    if verbose:
        print(
            "VGG19: the pretrained weights are NOT on this machine, so this notebook uses a RANDOMLY "
            "initialised VGG19. Its features are random: the numbers and pictures that follow show the "
            "code running, not what a trained VGG19 sees, and comparisons made with them are not "
            f"meaningful. {describe_weights_location() if _env_weights_path() else _how_to_get_weights()}"
        )
    return None


def _resolve_weights_file(weights: Weights) -> tuple[Path | None, str]:
    """(file to load or None for random, a sentence saying what was chosen)."""
    if weights is None:
        return None, "random (weights=None): the features are not meaningful"
    if isinstance(weights, str) and weights in VGG19_Weights.__members__:
        weights = VGG19_Weights[weights]
    if isinstance(weights, VGG19_Weights):
        if weights is not PRETRAINED:
            raise ValueError(f"unsupported VGG19 weights {weights}; use {PRETRAINED}")
        env_path = _env_weights_path()
        if env_path is not None:
            if not env_path.is_file():
                raise VGGWeightsNotFoundError(
                    f"${ENV_VARIABLE} names {env_path}, but there is no file there. Put {WEIGHTS_FILE} "
                    f"there, fix the variable, or unset it to use torchvision's cache. {_how_to_get_weights()}"
                )
            return env_path, f"pretrained ImageNet weights from ${ENV_VARIABLE} = {env_path}"
        cached = cached_weights_path()
        if not cached.is_file():
            cached = download_weights()
        return cached, f"pretrained ImageNet weights from {cached}"
    if isinstance(weights, (str, os.PathLike)):
        path = Path(weights).expanduser()
        if isinstance(weights, str) and not path.is_file() and re.fullmatch(r"[A-Z0-9_]*_V\d+", weights):
            raise ValueError(f"weights={weights!r} looks like the name of a torchvision weights set, but srgan-edu "
                             f"supports only {PRETRAINED.name} (the ImageNet weights the paper used): pass "
                             f"weights={PRETRAINED.name!r}, a path to a state-dict file, or None.")
        if not path.is_file():
            raise VGGWeightsNotFoundError(f"No VGG19 weights file at {path}. {_how_to_get_weights()}")
        return path, f"weights from {path}"
    raise TypeError(
        f"weights must be VGG19_Weights.IMAGENET1K_V1, a path to a state-dict file, or None (random), "
        f"got {type(weights).__name__}"
    )


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not looks_like_torch_file(path):
        raise ValueError(f"Cannot read {path} as a PyTorch state dict: it is not a PyTorch file at all (not a zip archive or a pickle: damaged, truncated, or "
                         f"another kind of file). Use {WEIGHTS_FILE}, torchvision's vgg19 ImageNet weights.")
    try:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # files in the legacy (pre-zip) format cannot be memory-mapped
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"Cannot read {path} as a PyTorch state dict ({type(err).__name__}: {_reason(err)}). It must be a file "
            f"written by torch.save(model.state_dict(), path) for torchvision's vgg19 (a whole pickled model "
            f"is refused for safety), such as {WEIGHTS_FILE}."
        ) from err
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ValueError(f"{path} does not hold a state dict (a mapping of names to tensors) for torchvision's vgg19")
    return loaded


def _check_state_dict(state: dict[str, torch.Tensor], expected: dict[str, torch.Size], path: Path) -> None:
    """Every ``features.*`` entry must be one of vgg19's convolutions with the right shape."""
    allowed_prefixes = ("features.", "classifier.")
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    problems: list[str] = []
    if not features:
        problems.append(f"it has no 'features.N.weight' entries (its keys start {sorted(state)[:4]})")
    unexpected = sorted(k for k in features if k not in expected) + sorted(
        k for k in state if not k.startswith(allowed_prefixes)
    )
    if unexpected:
        hint = " (running statistics: this looks like vgg19_bn)" if any("running_" in k for k in unexpected) else ""
        problems.append(f"unexpected entries {unexpected[:6]}{hint}")
    shapes = [f"{k}: {tuple(v.shape)} instead of {tuple(expected[k])}" for k, v in features.items()
              if k in expected and v.shape != expected[k]]
    if shapes:
        problems.append("wrong shapes " + "; ".join(shapes[:4]))
    if problems:
        raise ValueError(
            f"{path} is not a state dict of torchvision's vgg19 (configuration E, without batch norm): "
            + "; ".join(problems)
            + f". Use {WEIGHTS_FILE} from {WEIGHTS_URL}, or a state dict saved from torchvision.models.vgg19()."
        )


class VGGFeatures(nn.Module):
    """Frozen VGG19 feature maps by name, with ImageNet normalisation inside.

    Lesson 04 (``notebooks/04_vgg_content_loss.ipynb``).

    The network is truncated after the deepest requested layer (``relu2_2`` needs only the
    first 9 of the 37 layers), its parameters never require gradients, and it stays in eval
    mode even inside a model switched to ``train()``. Gradients still flow to the *input*,
    which is how the content loss trains the generator.

    Args:
        layers: names of the maps to return, e.g. ``("relu2_2", "relu5_4")`` for phi_2,2 and
            phi_5,4 (see :data:`LAYER_INDICES`).
        weights: ``VGG19_Weights.IMAGENET1K_V1`` (or ``"IMAGENET1K_V1"``), a path to a
            state-dict file, or ``None`` for random weights. No default: choose.
        input_range: ``"signed"`` for images in [-1, 1] (the generator's output and the HR
            targets) or ``"unit"`` for [0, 1].

    Shape:
        img (B, 3, H, W) in the chosen range -> dict name -> (B, C_layer, H / 2**p, W / 2**p),
        where p is the number of max-pools before the layer (H, W >= 2**p).

    Attributes:
        source: a sentence saying which weights were loaded.
        pretrained: whether the weights are anything other than random.
    """

    def __init__(self, layers: tuple[str, ...] | list[str] | str = ("relu5_4",), *, weights: Weights,
                 input_range: str = "signed") -> None:
        super().__init__()
        layers = (layers,) if isinstance(layers, str) else tuple(layers)
        unknown = [name for name in layers if name not in LAYER_INDICES]
        if not layers or unknown:
            raise ValueError(
                f"unknown VGG19 layer names {unknown or '(none given)'}; use names such as 'relu2_2' (phi_2,2) "
                f"or 'relu5_4' (phi_5,4). All names: {', '.join(LAYER_INDICES)}"
            )
        if input_range not in INPUT_RANGES:
            raise ValueError(f"input_range must be 'signed' ([-1, 1]) or 'unit' ([0, 1]), got {input_range!r}")
        self.layers = layers
        self.input_range = input_range
        self._indices = {name: LAYER_INDICES[name] for name in layers}
        depth = max(self._indices.values()) + 1

        path, self.source = _resolve_weights_file(weights)
        self.pretrained = path is not None
        # Built on the meta device: torchvision's vgg19 with its 120 M classifier parameters costs
        # seconds to initialise, and only the first `depth` feature layers are kept.
        with torch.device("meta"):
            reference = vgg19(weights=None).features
        expected = {f"features.{k}": v.shape for k, v in reference.state_dict().items()}
        layers_kept = [nn.ReLU(inplace=False) if isinstance(m, nn.ReLU) else m for m in reference[:depth]]
        # In-place ReLUs would overwrite the conv{i}_{j} maps a caller asked for.
        self.features = nn.Sequential(*layers_kept).to_empty(device="cpu")
        if path is None:
            for module in self.features:
                if isinstance(module, nn.Conv2d):  # torchvision's own initialisation of vgg19
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(module.bias)
        else:
            state = _read_state_dict(path)
            _check_state_dict(state, expected, path)
            wanted = {k: v for k, v in expected.items() if int(k.split(".")[1]) < depth}
            missing = sorted(k for k in wanted if k not in state)
            if missing:
                raise ValueError(
                    f"{path} lacks the VGG19 entries {missing[:6]} needed up to layer "
                    f"{max(self._indices, key=self._indices.get)}; it holds a shorter network. Use the full "
                    f"{WEIGHTS_FILE} from {WEIGHTS_URL}."
                )
            self.features.load_state_dict({k[len("features."):]: state[k].float() for k in wanted})
        self.features.requires_grad_(False)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        super().train(False)

    def train(self, mode: bool = True) -> VGGFeatures:
        """Always stays in eval mode: the extractor is a fixed measuring instrument."""
        return super().train(False)

    def extra_repr(self) -> str:
        return f"layers={self.layers}, input_range={self.input_range!r}, source={self.source!r}"

    def forward(self, img: torch.Tensor) -> dict[str, torch.Tensor]:
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError(f"VGGFeatures expects RGB batches (B, 3, H, W), got shape {tuple(img.shape)}")
        if self.input_range == "signed":
            img = (img + 1.0) * 0.5  # [-1, 1] -> [0, 1]
        features = (img - self.mean) / self.std  # ImageNet normalisation, as the weights were trained
        wanted_at = {index: name for name, index in self._indices.items()}
        maps: dict[str, torch.Tensor] = {}
        for index, module in enumerate(self.features):
            features = module(features)
            if index in wanted_at:
                maps[wanted_at[index]] = features
        return maps
