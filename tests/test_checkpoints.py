"""Checkpoints: atomic writes, keep-last-N and best, RNG states, and refusing pickles that run code."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from srgan_edu import checkpoints, training
from srgan_edu.checkpoints import (
    CheckpointError,
    CheckpointManager,
    CheckpointMismatchError,
    capture_rng_states,
    check_compatible,
    load_checkpoint,
    restore_rng_states,
    save_checkpoint,
)


class _RunsCode:
    """Unpickling this calls exec(), which creates a marker file: the attack weights_only stops."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def test_save_and_load_round_trip(tmp_path):
    state = {"format": 1, "kind": "srresnet", "step": 3, "weights": torch.arange(4.0), "rows": [{"a": 1.5}]}
    path = save_checkpoint(state, tmp_path / "sub" / "ckpt.pt")
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["weights"], state["weights"])
    assert loaded["rows"] == [{"a": 1.5}]
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"], "no temporary file is left behind"


def test_an_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = save_checkpoint({"step": 1}, tmp_path / "ckpt.pt")

    def broken_save(obj, handle):
        handle.write(b"half a checkp")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_pickle_that_would_run_code_is_refused(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"generator": {"weight": torch.zeros(1)}, "trap": _RunsCode(marker)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))  # a plain pickle file
    with pytest.raises(CheckpointError, match="Refused to load .*run arbitrary code") as info:
        load_checkpoint(path)
    assert "weights_only=True" in str(info.value)
    with pytest.raises(CheckpointError, match="Refused to load"):
        training.load_generator(path)  # what evaluation and the widgets call on downloaded files
    assert not marker.exists(), "loading the file ran its code"


def test_the_malicious_pickle_really_runs_code_without_weights_only(tmp_path):
    # Proves the test above is meaningful: a plain unpickle executes the payload.
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_RunsCode(marker)))
    assert marker.exists()


def test_a_damaged_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="Cannot read|Refused"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_manager_keeps_the_last_n_and_the_best(tmp_path):
    manager = CheckpointManager(tmp_path / "checkpoints", keep_last=2)
    assert manager.latest() is None and manager.best() is None
    for step, is_best in [(10, True), (20, False), (30, True), (40, False)]:
        manager.save({"step": step}, step=step, is_best=is_best)
    assert [step for step, _ in manager.step_files()] == [30, 40]
    assert manager.latest().name == "step_00000040.pt"
    assert load_checkpoint(manager.best())["step"] == 30
    with pytest.raises(ValueError):
        CheckpointManager(tmp_path, keep_last=0)


def test_rng_states_round_trip_through_a_weights_only_file(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.standard_normal()  # leaves a cached Gaussian in NumPy's state
    save_checkpoint({"rng": capture_rng_states()}, tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)], np.random.standard_normal())
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    restore_rng_states(load_checkpoint(tmp_path / "rng.pt")["rng"])
    again = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)], np.random.standard_normal())
    assert torch.equal(expected[0], again[0])
    assert np.array_equal(expected[1], again[1])
    assert expected[2] == again[2] and expected[3] == again[3]


def test_check_compatible_names_the_mismatch():
    state = {"format": checkpoints.CHECKPOINT_FORMAT, "kind": "srresnet", "step": 5,
             "generator_config": {"scale": 4, "num_features": 8, "num_blocks": 1}}
    check_compatible(state, kinds=("srresnet",), generator_config={"scale": 4, "num_features": 8, "num_blocks": 1})
    with pytest.raises(CheckpointMismatchError, match="'srresnet' run, but 'srgan'"):
        check_compatible(state, kinds=("srgan",))
    with pytest.raises(CheckpointMismatchError, match="generator scale: checkpoint 4, here 2"):
        check_compatible(state, kinds=("srresnet",), generator_config={"scale": 2, "num_features": 8, "num_blocks": 1})
    with pytest.raises(CheckpointMismatchError, match="not an srgan-edu training checkpoint"):
        check_compatible({"weight": torch.zeros(1)}, kinds=("srresnet",))

