"""Export a training run's generator as a shipped course model and measure it (maintainers).

    python tools/make_course_models.py SRResNet-MSE RUN_DIR/checkpoints/step_00006000.pt \\
        --run-dir RUN_DIR --val-dir VAL_DIR --command "python -m srgan_edu train srresnet ..."

writes srgan_edu/models/NAME.safetensors (fp16) and NAME.json (how it was trained, and
PSNR/SSIM/high-frequency energy of bicubic and the model on the validation photographs and
on the built-in test images, measured on the exported fp16 weights with the paper's
protocol), and prints the SHA-256 to put into ``srgan_edu.course_models.SHA256``.
Everything in the JSON is read from the run or measured here; nothing is typed in by hand
except the command line and the data summary, which the maintainer passes.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import sys
from pathlib import Path

import torch

from srgan_edu import course_models, data, evaluation, metrics
from srgan_edu.benchmark import _cpu_name
from srgan_edu.checkpoints import load_checkpoint
from srgan_edu.images import list_images, load_image, modcrop
from srgan_edu.srresnet import SRResNet


def _scores(generator, images, scale: int) -> dict:
    """Mean PSNR/SSIM (Y, shaved) and the high-frequency energy ratio to HR, bicubic and the model."""
    rows = {"bicubic": [], "model": []}
    for name, hr_img in images:
        lr_img, bicubic = evaluation.bicubic_pair(hr_img, scale)
        hr_crop = modcrop(hr_img, scale)
        sr_img = evaluation.super_resolve(generator, lr_img, tile=256)
        sr_img = evaluation.from_uint8(evaluation.to_uint8(sr_img))
        hr_energy = metrics.high_frequency_energy(hr_crop)
        for key, img in (("bicubic", bicubic), ("model", sr_img)):
            rows[key].append({
                "name": name,
                "psnr": metrics.psnr(img, hr_crop, scale=scale),
                "ssim": metrics.ssim(img, hr_crop, scale=scale),
                "hf_energy_ratio": metrics.high_frequency_energy(img) / hr_energy,
            })
    return {key: {"mean": {m: sum(r[m] for r in values) / len(values) for m in ("psnr", "ssim", "hf_energy_ratio")},
                  "per_image": values}
            for key, values in rows.items()}


CARD_INTRO = """# The course models

Two trained generators ship inside the package (`srgan_edu/models/`), so that a learner without a
GPU sees what a trained SRResNet and SRGAN do. Load them with
`srgan_edu.course_models.load("SRResNet-MSE")` or `load("SRGAN-MSE")`; the lessons use
`course_models.load_or_train`, which takes your own checkpoint instead in the full mode.

This page is written by `tools/make_course_models.py` from the models' own description files
(`srgan_edu/models/*.json`): every number below was measured on the shipped files.

## What they are

- **SRResNet-MSE**: the paper's generator (16 residual blocks, 64 feature maps, x4; sec. 2.1)
  trained with the MSE loss (eq. 4).
- **SRGAN-MSE**: the paper's SRGAN-MSE variant (table 1): the MSE content loss plus 10^-3 times
  the adversarial loss (eq. 3 and 6), the generator initialised from SRResNet-MSE, against the
  paper's discriminator. The paper's SRGAN proper (SRGAN-VGG54) needs the pretrained VGG19
  weights, which the machines that trained these could not download; a model trained with a
  random VGG19 would teach nothing, so none ships. Where the weights are present, the same
  command with `--content-loss vgg54` trains it.

## Data

72 photographs of the Sun-Hays 80 scene set (L. Sun and J. Hays, ICCP 2012; streets,
buildings, landscapes, interiors; 1024 pixels on the long side), none of which is in Set5,
Set14 or BSD100. Eight of the 80 were held out for validation and never trained on:
{validation}. The built-in test images (chelsea, coffee, rocket) were never trained on
either. The photographs are not part of this repository.

## How they were trained
"""

CARD_LIMITS = """
## Limitations

- Trained on 72 web photographs, not DIV2K's 800, for thousands of updates, not the paper's
  10^6 (SRResNet) and 2 x 10^5 (SRGAN): they are far from the paper's numbers. They show its
  effects (SRResNet above bicubic in PSNR; SRGAN-MSE lower in PSNR and with more fine detail),
  at a smaller size.
- SRGAN-MSE's added detail is not the photograph's detail: look at the crops before trusting the HF
  ratio. The paper's textures come from the VGG54 content loss, which these models do not use.
- x4 only, for bicubic-downscaled inputs (the paper's degradation); a photograph with other
  blur, noise or JPEG artefacts is a different problem.

## Measuring them on Set5, Set14 and BSD100

```bash
python -m srgan_edu download Set5 --data-dir data      # and Set14, BSD100
python -m srgan_edu evaluate --model SRResNet-MSE --data-dir data --sets Set5 Set14 BSD100
python -m srgan_edu evaluate --model SRGAN-MSE --data-dir data --sets Set5 Set14 BSD100
python -m srgan_edu evaluate --model SRResNet-MSE --builtin   # no download
python -m srgan_edu upscale my_photo.png --model SRGAN-MSE --out my_photo_x4.png
```
"""


def write_card(path: Path) -> None:
    """docs/models.md from the shipped models' JSON files (only those present)."""
    metas = [model.meta for model in course_models.CourseModel if model.meta_path.is_file()]
    if not metas:
        return
    parts = [CARD_INTRO.format(validation=", ".join(metas[0]["training_data"]["validation_images"]))]
    for meta in metas:
        parts.append(f"### {meta['name']}\n")
        stages = meta.get("stages") or []
        if len(stages) > 1:
            parts.append(f"- {meta['steps']:,} updates in {len(stages)} stages, each started from the weights the "
                         f"one before it ended with"
                         + (f"; initialised from {meta['init_from']}" if meta.get("init_from") else "") + ":")
            for number, stage in enumerate(stages, 1):
                parts.append(f"  {number}. {stage['steps']:,} updates, batch {stage['batch_size']} of "
                             f"{stage['hr_crop']}x{stage['hr_crop']} HR crops, Adam at {stage['learning_rate']:g} "
                             f"({stage['lr_schedule']} schedule), {stage['step_time_hours']} hours of steps on "
                             f"{stage['machine']}, {stage['date']}: `{stage['command']}`")
        else:
            parts.append(f"- {meta['steps']:,} updates, batch {meta['batch_size']} of {meta['hr_crop']}x{meta['hr_crop']} "
                         f"HR crops, Adam at {meta['learning_rate']:g} ({meta['lr_schedule']} schedule)"
                         + (f", initialised from {meta['init_from']}" if meta.get("init_from") else "") + ".")
            parts.append(f"- Command: `{meta['command']}`")
        if meta.get("selection"):
            parts.append(f"- Which checkpoint ships: {meta['selection']}")
        parts.append(f"- Time in training steps: {meta['step_time_hours']} hours on {meta['machine']}, "
                     f"PyTorch {meta['torch']}, {meta['date']}.")
        parts.append(f"- Weights: `{meta['weights']['file']}`, {meta['weights']['dtype']}, "
                     f"{meta['weights']['bytes'] / 2**20:.1f} MB, SHA-256 `{meta['weights']['sha256']}`.")
        parts.append(f"\n![{meta['name']} training curves](models/{meta['weights']['file'].split('.')[0]}_training.png)\n")
    parts.append("## What they measure\n")
    parts.append("PSNR and SSIM on Y (BT.601), 4-pixel border shaved, 8-bit images, MATLAB-style bicubic LR; "
                 "HF ratio: the share of Y-spectrum energy above 1/8 cycle per pixel, relative to the HR image's "
                 "(1 = as much fine detail as the photograph; `metrics.high_frequency_energy`). Means over the images.\n")
    parts.append("| images | method | PSNR (dB) | SSIM | HF ratio |")
    parts.append("|---|---|---|---|---|")
    for where, label in (("validation_photographs", "8 validation photographs"),
                         ("builtin_test_images", "3 built-in test images")):
        rows = [("bicubic", metas[0]["measured"][where]["bicubic"]["mean"])]
        rows += [(meta["name"], meta["measured"][where]["model"]["mean"]) for meta in metas]
        for method, mean in rows:
            parts.append(f"| {label} | {method} | {mean['psnr']:.2f} | {mean['ssim']:.4f} | {mean['hf_energy_ratio']:.3f} |")
    parts.append(CARD_LIMITS)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def _stage(meta: dict) -> dict:
    """One training stage of a shipped model, from its description file."""
    return {key: meta.get(key) for key in ("steps", "batch_size", "hr_crop", "learning_rate", "lr_schedule",
                                           "command", "step_time_hours", "machine", "date")}


def _stage_of_run(state: dict, config: dict, command: str, hours: float, threads: str) -> dict:
    return {"steps": int(state["step"]), "batch_size": config["batch_size"], "hr_crop": config["hr_crop"],
            "learning_rate": config["learning_rate"], "lr_schedule": config.get("lr_schedule", "step"),
            "command": command, "step_time_hours": hours, "machine": f"{_cpu_name()}, {threads}".strip(", "),
            "date": datetime.date.today().isoformat()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=course_models.names())
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--run-dir", type=Path, required=True, help="the run folder (history.csv, validation.csv)")
    parser.add_argument("--val-dir", type=Path, required=True, help="the held-out validation photographs")
    parser.add_argument("--command", required=True, help="the exact training command line")
    parser.add_argument("--data-summary", required=True, help="one phrase: what it was trained on")
    parser.add_argument("--init-from", default=None, help="SRGAN: the course model it started from")
    parser.add_argument("--threads", default="", help="how the run used the CPU, e.g. '1 thread'")
    parser.add_argument("--selection", default=None, help="why this checkpoint of the run ships (SRGAN: not by PSNR)")
    parser.add_argument("--continues", action="store_true",
                        help="the run fine-tuned the shipped model of this name (train --init-generator NAME): "
                             "its steps, time and validation curve continue the shipped ones")
    args = parser.parse_args(argv)

    model = course_models.resolve(args.name)
    before = model.meta if args.continues else None  # read before the export replaces it
    state = load_checkpoint(args.checkpoint)
    generator = SRResNet(**state["generator_config"])
    generator.load_state_dict(state["generator"])
    sha256 = course_models.export_generator(generator.eval(), model.weights_path)
    # measure what ships: the fp16 file read back
    from safetensors.torch import load_file

    shipped = SRResNet(**state["generator_config"])
    shipped.load_state_dict({k: v.float() for k, v in load_file(model.weights_path).items()})
    shipped.eval()

    # the run may have gone on past the checkpoint that ships: only its rows up to that step
    shipped_step = int(state["step"])
    history = [row for row in csv.DictReader(open(args.run_dir / "history.csv", encoding="utf-8"))
               if int(row["step"]) <= shipped_step]
    validation = [row for row in csv.DictReader(open(args.run_dir / "validation.csv", encoding="utf-8"))
                  if int(row["step"]) <= shipped_step]
    config = state["train_config"]
    step_seconds, previous = 0.0, 0
    for row in history:  # the time spent in training steps (validation and saving excluded)
        step = int(row["step"])
        step_seconds += (step - previous) * config["batch_size"] / float(row["images_per_second"])
        previous = step
    offset = int(before["steps"]) if before else 0
    validation_curve = [{"step": offset + int(r["step"]), "psnr": float(r["psnr"]), "ssim": float(r["ssim"])}
                        for r in validation]
    command = args.command
    if before:
        validation_curve = before["validation_curve"] + validation_curve
        step_seconds += before["step_time_hours"] * 3600
        command = f"{before['command']}; then, fine-tuning those weights: {args.command}"
    val_images = [(p.stem, load_image(p)) for p in list_images(args.val_dir)]
    with torch.no_grad():
        measured = {
            "validation_photographs": _scores(shipped, val_images, 4),
            "builtin_test_images": _scores(shipped, data.builtin_images("test"), 4),
        }
    meta = {
        "name": model.value,
        "kind": state["kind"],
        "content_loss": config["content_loss"],
        "adversarial_weight": config["adversarial_weight"] if state["kind"] == "srgan" else None,
        "generator_config": state["generator_config"],
        "steps": offset + int(state["step"]),
        "batch_size": config["batch_size"],
        "hr_crop": config["hr_crop"],
        "learning_rate": config["learning_rate"],
        "lr_schedule": config.get("lr_schedule", "step"),
        "command": command,
        "init_from": args.init_from,
        "selection": args.selection,
        "training_data": {
            "summary": args.data_summary,
            "validation_images": [name for name, _ in val_images],
        },
        "step_time_hours": round(step_seconds / 3600, 2),
        "machine": (f"{before['machine']}, then {_cpu_name()}, {args.threads}".strip(", ") if before
                    else f"{_cpu_name()}, {args.threads}".strip(", ")),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "date": datetime.date.today().isoformat(),
        "weights": {"file": model.weights_path.name, "dtype": "float16", "sha256": sha256,
                    "bytes": os.path.getsize(model.weights_path)},
        "validation_curve": validation_curve,
        "stages": (before.get("stages") or [_stage(before)] if before else []) + [_stage_of_run(
            state, config, args.command, round(step_seconds / 3600 - (before["step_time_hours"] if before else 0), 2),
            args.threads)],
        "protocol": "PSNR/SSIM on Y (BT.601), border of 4 pixels shaved, 8-bit images, bicubic LR (MATLAB-style); "
                    "hf_energy_ratio: Y-spectrum energy above 1/8 cycle per pixel, relative to the HR image's",
        "measured": measured,
    }
    tmp = model.meta_path.with_name(f".{model.meta_path.name}.tmp")
    tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, model.meta_path)
    # the model card's figure: the run's own curves, drawn by the lessons' figure function
    from srgan_edu import viz
    from srgan_edu.training import History

    figure_path = Path(__file__).resolve().parents[1] / "docs" / "models" / f"{model.stem}_training.png"
    figure_path.parent.mkdir(parents=True, exist_ok=True)
    history = History([dict(row, step=offset + row["step"]) for row in History.from_csv(args.run_dir / "history.csv")
                       if row["step"] <= shipped_step])
    fig = viz.training_curves_figure(history, History(validation_curve),
                                     marks={"fine-tuning starts": offset} if offset else None,
                                     title=f"{model.value}: training loss and validation PSNR (8 held-out photographs)")
    fig.savefig(figure_path, dpi=80, bbox_inches="tight")
    print(f"figure: {figure_path}")
    for where, result in measured.items():
        print(f"{where}: bicubic {result['bicubic']['mean']['psnr']:.2f} dB, {model.value} "
              f"{result['model']['mean']['psnr']:.2f} dB (HF ratio {result['model']['mean']['hf_energy_ratio']:.3f})")
    write_card(figure_path.parents[1] / "models.md")
    print(f'SHA256["{model.value}"] = "{sha256}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
