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
import platform
import sys
from pathlib import Path

import torch

from srgan_edu import course_models, data, evaluation, metrics
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


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


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
    args = parser.parse_args(argv)

    model = course_models.resolve(args.name)
    state = load_checkpoint(args.checkpoint)
    generator = SRResNet(**state["generator_config"])
    generator.load_state_dict(state["generator"])
    sha256 = course_models.export_generator(generator.eval(), model.weights_path)
    # measure what ships: the fp16 file read back
    from safetensors.torch import load_file

    shipped = SRResNet(**state["generator_config"])
    shipped.load_state_dict({k: v.float() for k, v in load_file(model.weights_path).items()})
    shipped.eval()

    history = list(csv.DictReader(open(args.run_dir / "history.csv", encoding="utf-8")))
    validation = list(csv.DictReader(open(args.run_dir / "validation.csv", encoding="utf-8")))
    config = state["train_config"]
    step_seconds, previous = 0.0, 0
    for row in history:  # the time spent in training steps (validation and saving excluded)
        step = int(row["step"])
        step_seconds += (step - previous) * config["batch_size"] / float(row["images_per_second"])
        previous = step
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
        "steps": int(state["step"]),
        "batch_size": config["batch_size"],
        "hr_crop": config["hr_crop"],
        "learning_rate": config["learning_rate"],
        "lr_schedule": config.get("lr_schedule", "step"),
        "command": args.command,
        "init_from": args.init_from,
        "training_data": {
            "summary": args.data_summary,
            "validation_images": [name for name, _ in val_images],
        },
        "step_time_hours": round(step_seconds / 3600, 2),
        "machine": f"{_cpu_name()}, {args.threads}".strip(", "),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "date": datetime.date.today().isoformat(),
        "weights": {"file": model.weights_path.name, "dtype": "float16", "sha256": sha256,
                    "bytes": os.path.getsize(model.weights_path)},
        "validation_curve": [{"step": int(r["step"]), "psnr": float(r["psnr"]), "ssim": float(r["ssim"])}
                             for r in validation],
        "protocol": "PSNR/SSIM on Y (BT.601), border of 4 pixels shaved, 8-bit images, bicubic LR (MATLAB-style); "
                    "hf_energy_ratio: Y-spectrum energy above 1/8 cycle per pixel, relative to the HR image's",
        "measured": measured,
    }
    tmp = model.meta_path.with_name(f".{model.meta_path.name}.tmp")
    tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, model.meta_path)
    for where, result in measured.items():
        print(f"{where}: bicubic {result['bicubic']['mean']['psnr']:.2f} dB, {model.value} "
              f"{result['model']['mean']['psnr']:.2f} dB (HF ratio {result['model']['mean']['hf_energy_ratio']:.3f})")
    print(f'SHA256["{model.value}"] = "{sha256}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
