"""The paper's numbers are spelled once, in srgan_edu.paper, and read from there."""

from __future__ import annotations

import inspect

from srgan_edu import data, evaluation, losses, paper, tradeoffs, training


def test_the_training_defaults_are_the_papers_schedule():
    srresnet, srgan = training.TrainConfig.srresnet(), training.TrainConfig.srgan()
    assert (srresnet.steps, srresnet.batch_size, srresnet.hr_crop, srresnet.scale) == (10**6, 16, 96, 4)
    assert (srresnet.learning_rate, srresnet.adam_beta1, srresnet.content_loss) == (1e-4, 0.9, "mse")
    assert (srgan.steps, srgan.lr_drop_step, srgan.lr_drop_factor) == (2 * 10**5, 10**5, 0.1)
    assert (srgan.content_loss, srgan.adversarial_weight) == ("vgg54", 1e-3)


def test_every_module_reads_the_same_values():
    assert inspect.signature(losses.PerceptualLoss).parameters["adversarial_weight"].default == paper.ADVERSARIAL_WEIGHT
    assert inspect.signature(losses.VGGContentLoss).parameters["rescale"].default == paper.VGG_RESCALE == 1 / 12.75
    assert inspect.signature(data.PairedPatchDataset).parameters["hr_crop"].default == paper.HR_CROP
    assert evaluation.PAPER_TABLE is paper.PAPER_TABLE and evaluation.BENCHMARK_SETS is paper.BENCHMARK_SETS
    assert training.CONTENT_LOSSES is paper.CONTENT_LOSSES
    assert tradeoffs.PAPER_ADVERSARIAL_WEIGHT == paper.ADVERSARIAL_WEIGHT


def test_the_papers_table_and_names():
    table = paper.PAPER_TABLE
    assert [table["bicubic"][s]["psnr"] for s in paper.BENCHMARK_SETS] == [28.43, 25.99, 25.94]
    assert [table["SRResNet"][s]["psnr"] for s in paper.BENCHMARK_SETS] == [32.05, 28.49, 27.58]
    assert [table["SRGAN"][s]["psnr"] for s in paper.BENCHMARK_SETS] == [29.40, 26.02, 25.16]
    assert (table["SRGAN"]["Set14"]["mos"], table["HR"]["Set14"]["mos"]) == (3.72, 4.32)
    assert paper.model_name("mse", 0) == "SRResNet-MSE"
    assert paper.model_name("vgg54", 1e-3) == "SRGAN-VGG54"
    assert paper.model_name("vgg22", 1e-2) == "SRGAN-VGG22 (1e-2)"
    assert tradeoffs.CONTENT_LOSSES == {"mse": "MSE", "vgg22": "VGG \u03c62,2", "vgg54": "VGG \u03c65,4"}
