"""The throughput benchmark runs with tiny settings and reports a well-formed table and JSON (no timing checks)."""

from __future__ import annotations

import argparse
import json

import torch

from srgan_edu import benchmark, training

TINY = ["--batch-size", "2", "--hr-crop", "24", "--num-blocks", "1", "--num-features", "8",
        "--steps", "1", "--warmup", "1"]


def _parse(argv):
    parser = argparse.ArgumentParser()
    benchmark.add_cli_arguments(parser)
    return parser.parse_args(argv)


def test_benchmark_cli_prints_a_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "out" / "bench.json"
    assert benchmark.cli_main(_parse([*TINY, "--modes", "fp32", "amp", "--json", str(path)])) == 0
    printed = capsys.readouterr().out
    assert "| model | mode |" in printed
    report = json.loads(path.read_text())
    assert json.loads(printed[printed.index("{"):]) == report
    assert set(report) == {"environment", "settings", "results"}
    assert {"device", "device_name", "torch", "python", "cpu_threads"} <= set(report["environment"])
    assert report["settings"]["batch_size"] == 2 and report["settings"]["hr_crop"] == 24
    rows = {(row["model"], row["mode"]): row for row in report["results"]}
    assert set(rows) == {(model, mode) for model in ("srresnet", "srgan") for mode in ("fp32", "amp")}
    for model in ("srresnet", "srgan"):
        ok = rows[(model, "fp32")]
        assert ok["status"] == "ok" and ok["steps_per_second"] > 0
        assert abs(ok["images_per_second"] - 2 * ok["steps_per_second"]) < 1e-6 * ok["images_per_second"]
        amp = rows[(model, "amp")]
        if torch.cuda.is_available() or training.cpu_has_native_bf16():
            assert amp["status"] == "ok" and "bf16" in amp["precision"]
        else:  # said, not silently dropped
            assert amp["status"] == "skipped" and "bf16" in amp["reason"] and amp["steps_per_second"] is None


def test_format_table_lists_skipped_modes_with_their_reason():
    report = {
        "environment": {"device": "cpu", "device_name": "CPU", "cpu_threads": 2, "torch": "x", "python": "3"},
        "settings": {"batch_size": 16, "hr_crop": 96, "scale": 4, "num_blocks": 16, "num_features": 64,
                     "steps": 3, "warmup": 1},
        "results": [
            {"model": "srgan", "mode": "fp32", "status": "ok", "precision": "fp32", "steps_per_second": 0.5,
             "images_per_second": 8.0, "seconds_per_step": 2.0, "reason": None},
            {"model": "srgan", "mode": "amp", "status": "skipped", "precision": None, "steps_per_second": None,
             "images_per_second": None, "seconds_per_step": None, "reason": "needs CUDA"},
        ],
    }
    table = benchmark.format_table(report)
    assert "| srgan | fp32 | fp32 | 0.500 | 8.00 | 2.000 |" in table
    assert "skipped: needs CUDA" in table


def test_flop_count_matches_flop_counter_mode_and_scales_with_batch():
    from torch.utils.flop_counter import FlopCounterMode

    conv = torch.nn.Conv2d(3, 8, 3, padding=1)

    def counted(batch):
        x = torch.rand(batch, 3, 8, 8)
        with FlopCounterMode(display=False) as counter:
            conv(x).sum().backward()
        return counter.get_total_flops()

    assert benchmark.count_flops(lambda: conv(torch.rand(2, 3, 8, 8)).sum().backward()) == counted(2)
    # forward 2*B*H*W*Cout*Cin*9; backward the same again (weight gradient only: x needs none)
    assert counted(2) == 2 * 2 * 2 * 8 * 8 * 8 * 3 * 9
    assert benchmark.count_flops(lambda: conv(torch.rand(4, 3, 8, 8)).sum().backward()) == 2 * counted(2)


def test_benchmark_rows_carry_flops_and_the_peak_table_answers():
    row = benchmark.time_mode("srresnet", "fp32", device=torch.device("cpu"), batch_size=2, hr_crop=24,
                              num_blocks=1, num_features=8, steps=1, warmup=1)
    assert row["flops_per_step"] > 0 and row["flops_per_second"] > 0 and row["mfu"] is None
    assert benchmark.peak_flops("NVIDIA H200", "bf16") == 989e12
    assert benchmark.peak_flops("NVIDIA A100-SXM4-80GB", "tf32") == 156e12
    assert benchmark.peak_flops("Tesla T4", "bf16") is None
    assert benchmark.peak_flops("AMD EPYC 9B14", "fp32") is None
