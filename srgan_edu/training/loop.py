"""The training loop (lessons 06 and 08): :func:`train_srresnet` and :func:`train_srgan`.

Mixed precision where the hardware has it, checkpoints (:mod:`srgan_edu.checkpoints`) that
resume exactly, a stop with a clear message on a NaN loss, and several processes under
``torchrun`` (:mod:`srgan_edu.distributed`). Each network is a :class:`Trainee` (the network,
its Adam, its learning-rate schedule, its gradient scaler) that saves and loads itself, so
G and D are handled alike; ``_train`` reads as the paper's loop in one screen.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from srgan_edu import __version__, checkpoints, course_models, distributed, losses, vgg
from srgan_edu.checkpoints import KINDS, CheckpointManager, CheckpointMismatchError
from srgan_edu.data import HRImageFolder, PairedPatchDataset
from srgan_edu.images import save_image
from srgan_edu.runtime import Precision
from srgan_edu.training.config import _RECIPE_FIELDS, History, TrainConfig, make_content_loss
from srgan_edu.training.steps import NonFiniteLossError, ValidationSet, check_finite, sample_grid, srgan_step, srresnet_step, validate
from srgan_edu.training.stream import training_loader


@dataclass
class TrainResult:
    """What a training run leaves behind."""

    generator: nn.Module  # the trained generator (plain network, on the training device, train mode)
    discriminator: nn.Module | None  # the trained discriminator (SRGAN only)
    history: History  # one row per logged step
    validation: History  # one row per validation: step, psnr, ssim
    run_dir: Path  # the run's folder
    last_checkpoint: Path | None  # the newest checkpoint (None on processes other than rank 0)
    best_checkpoint: Path | None  # SRResNet: best validation PSNR; SRGAN: None (the last one is the choice)
    steps: int  # steps done in total (including those before a resume)

    @property
    def history_csv(self) -> Path:
        return self.run_dir / "history.csv"

    @property
    def samples_dir(self) -> Path:
        return self.run_dir / "samples"


def run_paths(run_dir: str | os.PathLike) -> dict[str, Path]:
    """Where a run keeps its files: checkpoints/, history.csv/.json, validation.csv, samples/."""
    run_dir = Path(run_dir)
    return {
        "run": run_dir,
        "checkpoints": run_dir / "checkpoints",
        "history_csv": run_dir / "history.csv",
        "history_json": run_dir / "history.json",
        "validation_csv": run_dir / "validation.csv",
        "samples": run_dir / "samples",
    }


def train_srresnet(
    generator: nn.Module,
    train_data: Dataset | str | os.PathLike | Sequence[torch.Tensor] | Sequence[tuple[str, torch.Tensor]],
    config: TrainConfig | None = None,
    *,
    run_dir: str | os.PathLike,
    val_images: Sequence[tuple[str, torch.Tensor]] | None = None,
    device: torch.device | str | None = None,
    resume: bool = False,
    init_generator: str | os.PathLike | None = None,
    content_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    vgg_weights: vgg.Weights = vgg.PRETRAINED,
    progress: bool = True,
    on_log: Callable[[History, History], None] | None = None,
) -> TrainResult:
    """Train SRResNet with a content loss (MSE by default, eq. 4), as in the paper's sec. 3.2.

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).

    Args:
        generator: the :class:`srgan_edu.srresnet.SRResNet` to train (changed in place).
        train_data: a data set of (lr_img (3, h, w) [0, 1], hr_img (3, H, W) [-1, 1]) pairs, or
            HR images (a folder, a list of images or of (name, image) pairs) from which a
            seeded :class:`srgan_edu.data.PairedPatchDataset` is made with the config's crop and scale.
        config: the schedule (default: the paper's, :meth:`TrainConfig.srresnet`).
        run_dir: the run's folder: checkpoints/, history.csv, validation.csv, samples/.
        val_images: held-out (name, (3, H, W) [0, 1]) images for PSNR/SSIM and sample grids.
        device: where to train (default: where the generator is; under ``torchrun``, this
            process's GPU or CPU).
        resume: continue from the newest checkpoint in ``run_dir`` (start afresh if there is none).
        init_generator: fine-tune: start a new run from these generator weights, a checkpoint
            file or a course model's name (``"SRResNet-MSE"``); ignored when resuming.
        content_loss: a custom ``loss(sr_img, hr_img)`` instead of ``config.content_loss``.
        vgg_weights: for VGG content losses: ``vgg.PRETRAINED`` (default), a path, or None (random).
        progress: show a tqdm progress bar.
        on_log: called as ``on_log(history, validation)`` after each new row (e.g.
            :class:`srgan_edu.viz.LiveTrainingCurves` to plot live in a notebook).

    Returns:
        A :class:`TrainResult`.

    Raises:
        NonFiniteLossError: a loss became NaN/inf; the message names the step and the part.
        CheckpointMismatchError: resuming a run of another model or with other settings.
        FileExistsError: ``run_dir`` holds checkpoints and ``resume`` is False.
    """
    return _train("srresnet", generator, None, train_data, config or TrainConfig.srresnet(), run_dir=run_dir,
                  val_images=val_images, device=device, resume=resume, init_generator=init_generator,
                  content_loss=content_loss, vgg_weights=vgg_weights, progress=progress, on_log=on_log)


def train_srgan(
    generator: nn.Module,
    discriminator: nn.Module,
    train_data: Dataset | str | os.PathLike | Sequence[torch.Tensor] | Sequence[tuple[str, torch.Tensor]],
    config: TrainConfig | None = None,
    *,
    run_dir: str | os.PathLike,
    init_generator: str | os.PathLike | None = None,
    val_images: Sequence[tuple[str, torch.Tensor]] | None = None,
    device: torch.device | str | None = None,
    resume: bool = False,
    content_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    vgg_weights: vgg.Weights = vgg.PRETRAINED,
    progress: bool = True,
    on_log: Callable[[History, History], None] | None = None,
) -> TrainResult:
    """Train SRGAN (eq. 1-3, 6): alternate one D step and one G step on each batch.

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).

    The generator should start from a trained SRResNet (``init_generator``), as in the
    paper: a randomly initialised G makes outputs D rejects at once, and the adversarial
    game then has nothing to work with.

    Args:
        generator: the :class:`srgan_edu.srresnet.SRResNet` to train (changed in place).
        discriminator: the :class:`srgan_edu.discriminator.Discriminator`, built for
            ``config.hr_crop`` crops (changed in place).
        train_data: as for :func:`train_srresnet`.
        config: the schedule (default: the paper's, :meth:`TrainConfig.srgan`).
        run_dir: the run's folder.
        init_generator: an SRResNet (or SRGAN) checkpoint whose generator weights to start from;
            ignored when resuming (the checkpoint has them).
        val_images, device, resume, content_loss, vgg_weights, progress, on_log: as for
            :func:`train_srresnet`.

    Returns:
        A :class:`TrainResult`.
    """
    if discriminator is None:
        raise ValueError("train_srgan needs a discriminator; use train_srresnet to train the generator alone")
    return _train("srgan", generator, discriminator, train_data, config or TrainConfig.srgan(), run_dir=run_dir,
                  val_images=val_images, device=device, resume=resume, init_generator=init_generator,
                  content_loss=content_loss, vgg_weights=vgg_weights, progress=progress, on_log=on_log)


def _as_dataset(train_data, config: TrainConfig) -> Dataset:
    if isinstance(train_data, Dataset) and not isinstance(train_data, HRImageFolder):
        return train_data  # already (lr_img, hr_img) pairs

    return PairedPatchDataset(train_data, hr_crop=config.hr_crop, scale=config.scale, hr_range="signed",
                              augment=True, seed=config.seed)


def _check_recipe(saved: dict[str, Any], config: TrainConfig, source: Path) -> None:
    defaults = TrainConfig()  # a checkpoint from before a field existed trained with its default
    fields = _RECIPE_FIELDS + (("steps",) if config.lr_schedule == "cosine" else ())  # the cosine ends at steps
    changed = [f"{name}: checkpoint {saved.get(name, getattr(defaults, name))!r}, now {getattr(config, name)!r}"
               for name in fields if saved.get(name, getattr(defaults, name)) != getattr(config, name)]
    if changed:
        raise CheckpointMismatchError(
            f"Cannot resume {source} with other training settings ({'; '.join(changed)}): the continued run would "
            f"not be the run it claims to be. Use the same settings (only steps, logging, checkpoint and precision "
            f"options may change), or start a new run in another folder."
        )


def _init_generator_weights(generator: nn.Module, source: str | os.PathLike, device: Any) -> str:
    """Load ``source`` (a checkpoint file, or a course model's name) into ``generator``; says what it was."""
    if not Path(source).exists() and str(source).strip().lower().replace("_", "-") in {
            name.lower() for name in course_models.names()}:
        shipped = course_models.load(str(source), device=device)
        wanted = dict(getattr(generator, "config", {}) or {})
        if wanted and dict(shipped.config) != wanted:
            raise CheckpointMismatchError(
                f"The course model {source} is a generator with {dict(shipped.config)}, this run builds "
                f"{wanted}: start with the paper's generator (the defaults) to fine-tune it.")
        generator.load_state_dict(shipped.state_dict())
        return f"the course model {course_models.resolve(str(source)).value}"
    state = checkpoints.load_checkpoint(source, map_location=device)
    checkpoints.check_compatible(state, kinds=KINDS, generator_config=getattr(generator, "config", None),
                                 source=source)
    generator.load_state_dict(state["generator"])
    return f"{source} ({checkpoints.describe(state)})"


@dataclass
class Trainee:
    """One network in training, with what trains it: G and D are handled alike.

    ``net`` is the plain network (saved, validated, returned); ``fast`` is the same network
    wrapped for speed (DistributedDataParallel, torch.compile), which the steps call. The
    checkpoint keys are the name and ``<name>_optimizer``, ``<name>_scheduler``, ``<name>_scaler``.
    """

    name: str  # "generator" or "discriminator"
    net: nn.Module
    optimizer: torch.optim.Optimizer  # Adam (beta1 = 0.9, the paper's)
    scheduler: torch.optim.lr_scheduler.LRScheduler  # a step drop (the paper's) or a cosine decay
    scaler: torch.amp.GradScaler  # loss scaling, enabled for fp16 only
    fast: nn.Module | None = None  # set by wrap_for_speed

    @classmethod
    def build(cls, name: str, net: nn.Module, config: TrainConfig, learning_rate: float,
              precision: Precision, device: torch.device) -> Trainee:
        optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate, betas=(config.adam_beta1, config.adam_beta2))
        if config.lr_schedule == "cosine":  # from learning_rate down to 0 at config.steps
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps)
        else:
            milestones = [config.lr_drop_step] if config.lr_drop_step else []
            scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones,
                                                             gamma=config.lr_drop_factor)
        return cls(name, net, optimizer, scheduler, torch.amp.GradScaler(device.type, enabled=precision.grad_scaler))

    def wrap_for_speed(self, context: distributed.DistributedContext, *, compile: bool) -> None:
        # torch.compile goes outside DistributedDataParallel (compile(DDP(net))), so that DDP's
        # gradient all-reduce can still overlap the backward pass.
        self.fast = distributed.wrap(self.net, context)
        if compile:
            self.fast = torch.compile(self.fast)

    def state_dict(self) -> dict[str, Any]:
        return {self.name: self.net.state_dict(),
                f"{self.name}_optimizer": self.optimizer.state_dict(),
                f"{self.name}_scheduler": self.scheduler.state_dict(),
                f"{self.name}_scaler": self.scaler.state_dict()}

    @staticmethod
    def absent(name: str) -> dict[str, None]:
        """The keys of a network a run does not have (SRResNet's discriminator), as checkpoints hold them."""
        return {name: None, f"{name}_optimizer": None, f"{name}_scheduler": None, f"{name}_scaler": None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state[self.name])
        self.optimizer.load_state_dict(state[f"{self.name}_optimizer"])
        self.scheduler.load_state_dict(state[f"{self.name}_scheduler"])
        if state[f"{self.name}_scaler"] and self.scaler.is_enabled():  # an fp32 run saved a disabled scaler
            self.scaler.load_state_dict(state[f"{self.name}_scaler"])


class _Meter:
    """Averages the loss parts between two history rows and times the steps (not the pauses)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.steps, self.start = 0, time.perf_counter()

    def add(self, parts: dict[str, torch.Tensor]) -> None:
        for name, value in parts.items():
            self.sums[name] = self.sums.get(name, 0.0) + value.float()
        self.steps += 1

    def row(self, step: int, learning_rate: float, images_per_step: int,
            context: distributed.DistributedContext) -> dict[str, float]:
        names = list(self.sums)
        means = distributed.all_reduce_mean(torch.stack([self.sums[n] for n in names]) / self.steps, context)
        elapsed = time.perf_counter() - self.start
        row = {"step": step, **{n: float(v) for n, v in zip(names, means.tolist())},
               "learning_rate": learning_rate, "images_per_second": self.steps * images_per_step / elapsed}
        self.sums, self.steps = {}, 0
        return row

    def resume(self, paused_at: float, *, logged: bool) -> None:
        """After validation and saving: a new interval starts now, or the pause is not counted."""
        if logged:
            self.start = time.perf_counter()
        else:
            self.start += time.perf_counter() - paused_at


class _Run:
    """One call of :func:`train_srresnet` or :func:`train_srgan`, cut into the steps it takes."""

    def __init__(self, kind, generator, discriminator, config: TrainConfig, *, run_dir, device,
                 content_loss, vgg_weights) -> None:
        self.kind, self.config = kind, config
        self.context = self._context(device, generator)
        self.device = self.context.device
        self.paths = run_paths(run_dir)
        self.manager = CheckpointManager(self.paths["checkpoints"], keep_last=config.keep_last)
        self.precision = Precision.choose(self.device, amp=config.amp, channels_last=config.channels_last)
        self.memory_format = torch.channels_last if self.precision.channels_last else torch.preserve_format
        self.say = print if self.context.is_main else (lambda *args, **kwargs: None)  # one voice under torchrun
        _check_networks(generator, discriminator, config)
        for net in (generator, discriminator):
            if net is not None:
                net.to(device=self.device, memory_format=self.memory_format).train()
        self.generator = Trainee.build("generator", generator, config, config.learning_rate, self.precision,
                                       self.device)
        self.discriminator = None if discriminator is None else Trainee.build(
            "discriminator", discriminator, config, config.discriminator_learning_rate or config.learning_rate,
            self.precision, self.device)
        self.trainees = [t for t in (self.generator, self.discriminator) if t is not None]
        if content_loss is None:
            content_loss = make_content_loss(config.content_loss, vgg_weights=vgg_weights)
        if isinstance(content_loss, nn.Module):
            content_loss = content_loss.to(self.device)
        self.content_loss = content_loss
        self.perceptual_loss = losses.PerceptualLoss(content_loss, config.adversarial_weight) if kind == "srgan" else None
        self.history, self.validation = History(), History()
        self.step, self.best_psnr = 0, -math.inf
        self.latest = self.manager.latest()

    @staticmethod
    def _context(device, generator: nn.Module) -> distributed.DistributedContext:
        context = distributed.current_context(device)
        if not context.enabled:
            device = torch.device(device) if device is not None else next(generator.parameters()).device
            context = dataclasses.replace(context, device=device)
        return context

    # --- resume or initialise -------------------------------------------------------------------

    def resume_or_initialise(self, *, resume: bool, init_generator) -> None:
        latest = self.latest
        if latest is not None and not resume:
            raise FileExistsError(
                f"{self.paths['run']} already holds a run (newest checkpoint {latest.name}). Pass resume=True "
                f"(--resume) to continue it, or choose another run folder (--out).")
        if resume and latest is not None:
            self._resume(latest)
            return
        if resume:
            self.say(f"Nothing to resume in {self.paths['checkpoints']}: starting a new run.")
        if init_generator is not None:
            described = _init_generator_weights(self.generator.net, init_generator, self.device)
            self.say(f"Generator initialised from {described}")
        elif self.kind == "srgan":
            self.say("Note: the generator starts from its current weights, not from a trained SRResNet checkpoint "
                     "(the paper initialises SRGAN from SRResNet; pass init_generator / --init-generator).")

    def _resume(self, latest: Path) -> None:
        try:
            state = checkpoints.load_checkpoint(latest, map_location=self.device)
        except checkpoints.CheckpointError as err:
            older = [path for _, path in self.manager.step_files() if path != latest]
            hint = (f"The previous checkpoint, {older[-1]}, is intact: move the damaged {latest.name} out of "
                    f"{latest.parent} and --resume again to continue from it." if older else
                    "No older checkpoint is left in the folder: start a new run in another folder (--out).")
            raise checkpoints.CheckpointError(f"The newest checkpoint cannot be resumed: {err} {hint}") from err
        discriminator = self.discriminator.net if self.discriminator is not None else None
        checkpoints.check_compatible(
            state, kinds=(self.kind,), generator_config=getattr(self.generator.net, "config", None),
            discriminator_config=getattr(discriminator, "config", None) if discriminator is not None else None,
            source=latest)
        _check_recipe(state["train_config"], self.config, latest)
        for trainee in self.trainees:
            trainee.load_state_dict(state)
        self.history, self.validation = History(state["history"]), History(state["validation"])
        self.step, self.best_psnr = int(state["step"]), float(state["best_psnr"])
        checkpoints.restore_rng_states(state["rng"])
        if state["data"]["world_size"] != self.context.world_size:
            self.say(f"Note: the checkpoint was written by {state['data']['world_size']} process(es), this run has "
                     f"{self.context.world_size}; training continues, but on other batches than the original run "
                     f"would have.")
        self.say(f"Resuming {checkpoints.describe(state)} from {latest}")

    # --- wrap for speed, and one training step ----------------------------------------------------

    def wrap_for_speed(self) -> None:
        """The plain networks are saved and validated; the wrapped ones (DDP, torch.compile) are trained."""
        for trainee in self.trainees:
            trainee.wrap_for_speed(self.context, compile=self.config.compile)
        self.judge = None
        if self.discriminator is not None:
            # D as the generator step uses it: outside DDP (its weights do not change in that step)
            self.judge = self.discriminator.fast
            if self.context.enabled:
                self.judge = torch.compile(self.discriminator.net) if self.config.compile else self.discriminator.net

    def batches(self, train_data) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The endless stream of (lr_img, hr_img) batches on the device, from where the run stands.

        The data set and its loader are made here, at once (a bad image folder fails before the run
        folder is touched); the loader's workers start at the first batch.
        """
        config = self.config
        loader = training_loader(_as_dataset(train_data, config), batch_size=config.batch_size,
                                 seed=config.seed, start_step=self.step, rank=self.context.rank,
                                 world_size=self.context.world_size, num_workers=config.num_workers,
                                 pin_memory=self.device.type == "cuda")

        def stream() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for lr_img, hr_img in loader:
                yield (lr_img.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format),
                       hr_img.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format))

        return stream()

    def train_step(self, lr_img: torch.Tensor, hr_img: torch.Tensor) -> dict[str, torch.Tensor]:
        g, d, dtype = self.generator, self.discriminator, self.precision.autocast_dtype
        if d is None:
            return srresnet_step(g.fast, g.optimizer, lr_img, hr_img, self.content_loss, scaler=g.scaler,
                                 autocast_dtype=dtype)
        return srgan_step(g.fast, d.fast, g.optimizer, d.optimizer, lr_img, hr_img, self.perceptual_loss,
                          generator_scaler=g.scaler, discriminator_scaler=d.scaler, autocast_dtype=dtype,
                          judge=self.judge)

    # --- validate and checkpoint ------------------------------------------------------------------

    def validation_due(self, validation_set: ValidationSet | None) -> bool:
        config, step = self.config, self.step
        return (self.context.is_main and validation_set is not None and config.val_every > 0
                and (step % config.val_every == 0 or step == config.steps))

    def validate(self, validation_set: ValidationSet) -> bool:
        """PSNR/SSIM and a sample grid; True when this is the best checkpoint so far."""
        step = self.step
        scores = validate(self.generator.net, validation_set)
        self.validation.append({"step": step, **scores})
        # SRGAN: the highest-PSNR checkpoint is the least adversarial one, so best.pt is not
        # chosen by PSNR; the last checkpoint is the model (the CLI says so).
        is_best = self.kind == "srresnet" and scores["psnr"] > self.best_psnr
        self.best_psnr = max(self.best_psnr, scores["psnr"])
        save_image(sample_grid(self.generator.net, validation_set), self.paths["samples"] / f"step_{step:08d}.png")
        return is_best

    def checkpoint(self, *, is_best: bool) -> None:
        step, config = self.step, self.config
        if self.context.is_main and (step % config.checkpoint_every == 0 or step == config.steps):
            self.last_checkpoint = self.manager.save(self.state_dict(), step=step, is_best=is_best)
            self.write_histories()
        elif is_best:  # the best validation so far fell between two step checkpoints
            self.manager.save_best(self.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint (format 1): runs written before Trainee existed resume with it, and it with them."""
        discriminator = self.discriminator
        return {
            "format": checkpoints.CHECKPOINT_FORMAT,
            "kind": self.kind,
            "step": self.step,
            "generator_config": dict(getattr(self.generator.net, "config", {})),
            "discriminator_config": dict(getattr(discriminator.net, "config", {})) if discriminator else None,
            "train_config": dataclasses.asdict(self.config),
            **self.generator.state_dict(),
            **(discriminator.state_dict() if discriminator else Trainee.absent("discriminator")),
            "history": self.history.rows,
            "validation": self.validation.rows,
            "best_psnr": self.best_psnr,
            "rng": checkpoints.capture_rng_states(),
            "data": {"seed": self.config.seed, "next_step": self.step, "batch_size": self.config.batch_size,
                     "world_size": self.context.world_size},
            "versions": {"torch": str(torch.__version__), "srgan_edu": str(__version__)},
        }

    def write_histories(self) -> None:
        self.history.to_csv(self.paths["history_csv"])
        self.history.to_json(self.paths["history_json"])
        if len(self.validation):
            self.validation.to_csv(self.paths["validation_csv"])

    def result(self) -> TrainResult:
        main = self.context.is_main
        return TrainResult(generator=self.generator.net,
                           discriminator=self.discriminator.net if self.discriminator else None,
                           history=self.history, validation=self.validation, run_dir=self.paths["run"],
                           last_checkpoint=self.manager.latest() if main else None,
                           best_checkpoint=self.manager.best() if main else None, steps=self.step)


def _check_networks(generator: nn.Module, discriminator: nn.Module | None, config: TrainConfig) -> None:
    if discriminator is not None and getattr(discriminator, "in_size", config.hr_crop) != config.hr_crop:
        raise ValueError(f"The discriminator was built for {discriminator.in_size}x{discriminator.in_size} crops but "
                         f"the config trains on {config.hr_crop}x{config.hr_crop}: build "
                         f"Discriminator(in_size={config.hr_crop}) or change hr_crop.")
    if getattr(generator, "scale", config.scale) != config.scale:
        raise ValueError(f"The generator upscales {generator.scale}x but the config says scale={config.scale}.")


def _train(kind, generator, discriminator, train_data, config: TrainConfig, *, run_dir, val_images, device,
           resume, init_generator, content_loss, vgg_weights, progress, on_log) -> TrainResult:
    """The loop: build, resume or initialise, wrap for speed, then train, log, validate and checkpoint."""
    run = _Run(kind, generator, discriminator, config, run_dir=run_dir, device=device,
               content_loss=content_loss, vgg_weights=vgg_weights)
    run.resume_or_initialise(resume=resume, init_generator=init_generator)
    run.wrap_for_speed()
    batches = run.batches(train_data)
    validation_set = ValidationSet.from_images(val_images, scale=config.scale, crop=config.val_crop) if val_images else None
    if run.context.is_main:
        _prepare_run_folder(run.paths, [t.net for t in run.trainees], fresh=run.step == 0 and run.latest is None,
                            say=run.say)
    run.say(f"Training {kind} on {run.device} in {run.precision.description}"
            f"{f', {run.context.world_size} processes' if run.context.enabled else ''}; run folder {run.paths['run']}")
    run.last_checkpoint = run.manager.latest()
    meter = _Meter()
    bar = tqdm(total=config.steps, initial=run.step, desc=f"train {kind}",
               disable=not (progress and run.context.is_main), dynamic_ncols=True)
    try:
        while run.step < config.steps:
            lr_img, hr_img = next(batches)
            learning_rate = run.generator.optimizer.param_groups[0]["lr"]
            parts = run.train_step(lr_img, hr_img)
            run.step += 1
            check_finite(parts, run.step, last_checkpoint=run.last_checkpoint, context=run.context)
            for trainee in run.trainees:
                trainee.scheduler.step()
            meter.add(parts)
            bar.update(1)

            logged = run.step % config.log_every == 0 or run.step == config.steps
            if logged:
                row = meter.row(run.step, learning_rate, config.batch_size * run.context.world_size, run.context)
                run.history.append(row)
                bar.set_postfix({n: f"{row[n]:.4g}" for n in ("content_loss", "d_real", "d_fake") if n in row})
            paused_at = time.perf_counter()  # validation and saving are not training speed
            validated = run.validation_due(validation_set)
            is_best = run.validate(validation_set) if validated else False
            if run.context.is_main and (logged or validated) and on_log is not None:
                on_log(run.history, run.validation)
            run.checkpoint(is_best=is_best)
            meter.resume(paused_at, logged=logged)
    except NonFiniteLossError:
        if run.context.is_main:
            run.write_histories()  # the curve that led to the blow-up, for the post-mortem
        raise
    finally:
        bar.close()
        batches.close()  # stops DataLoader workers
    distributed.barrier(run.context)
    return run.result()


def _prepare_run_folder(paths: dict[str, Path], networks: list[nn.Module], *,
                        fresh: bool, say: Callable[..., None]) -> None:
    """Before the first step: remove a killed save's temporaries, keep an earlier run's history, and
    make sure checkpoints can be written (an unwritable or full folder would otherwise be found
    only at the first checkpoint, thousands of steps later)."""
    run = paths["run"]
    if run.exists() and not run.is_dir():
        raise NotADirectoryError(f"The run folder {run} is a file, not a folder: choose another --out.")
    removed = checkpoints.remove_stale_temporaries(paths["checkpoints"])
    if removed:
        say(f"Removed {len(removed)} temporary file(s) left by a save that was interrupted: "
            f"{', '.join(path.name for path in removed)}")
    kept = [paths[name] for name in ("history_csv", "history_json", "validation_csv") if paths[name].is_file()]
    if fresh and kept:  # a run that stopped (e.g. on a NaN) before its first checkpoint: its post-mortem stays
        folder = run / time.strftime("previous_run_%Y%m%d-%H%M%S")
        folder.mkdir(parents=True, exist_ok=True)
        for path in kept:
            os.replace(path, folder / path.name)
        say(f"Kept the history of the earlier run in this folder (it wrote no checkpoint) in {folder}")
    try:
        paths["checkpoints"].mkdir(parents=True, exist_ok=True)
        probe = paths["checkpoints"] / f".write_test.tmp{os.getpid()}"
        try:
            probe.write_bytes(b"srgan-edu")
        finally:
            probe.unlink(missing_ok=True)
    except OSError as err:
        raise PermissionError(f"Cannot write in the run folder {run} ({err.strerror or err}): choose a folder "
                              f"you can write to (--out), or fix its permissions.") from err
    # a checkpoint holds the weights and Adam's two moments, for every network
    needed = 3 * sum(p.numel() * p.element_size() for net in networks for p in net.parameters()) + 2**20
    free = shutil.disk_usage(paths["checkpoints"]).free
    if free < needed:
        raise OSError(f"The disk of {run} has {free / 2**20:.1f} MiB free, but one checkpoint needs about "
                      f"{needed / 2**20:.1f} MiB: free some space or choose another --out.")
