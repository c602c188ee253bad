"""The one thread policy: counts from cores and concurrency, overrides, and what it sets."""

from __future__ import annotations

import argparse

import cv2
import pytest
import torch

from cgclip.threads import (
    ThreadPlan,
    add_threads_argument,
    apply_threads,
    plan_threads,
    threads_arg,
    usable_cores,
)


@pytest.fixture(autouse=True)
def _no_thread_env(monkeypatch):
    for var in ("OMP_NUM_THREADS", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)


def test_auto_leaves_a_core_to_each_concurrent_stage():
    assert plan_threads(cores=2, concurrent=1, load=0.0).torch == 1
    assert plan_threads(cores=16, concurrent=1, load=0.0).torch == 15
    plan = plan_threads(cores=16, concurrent=4, load=0.0)
    assert plan == ThreadPlan(16, 0.0, 12, 12, 12, "auto")
    assert plan_threads(cores=1, concurrent=3, load=0.0).torch == 1  # never below one
    assert plan_threads(cores=8, concurrent=0, load=0.0).torch == 8


def test_auto_leaves_the_cores_other_processes_keep_busy():
    assert plan_threads(cores=16, concurrent=1, load=12.0).torch == 4
    assert plan_threads(cores=16, concurrent=1, load=3.4).torch == 13
    assert plan_threads(cores=2, concurrent=0, load=9.0).torch == 1
    assert plan_threads(cores=16, concurrent=1, load=0.3).torch == 15  # concurrency still counts


def test_a_decoder_takes_half_a_core():
    """Measured (thread_policy): idle, 2 threads beat 1 beside the decoder; loaded, 1 wins."""
    from cgclip.threads import DECODER_SHARE

    assert plan_threads(cores=2, concurrent=DECODER_SHARE, load=0.2).torch == 2
    assert plan_threads(cores=2, concurrent=DECODER_SHARE, load=1.0).torch == 1
    assert plan_threads(cores=16, concurrent=DECODER_SHARE, load=0.0).torch == 16


def test_explicit_count_and_user_environment_win(monkeypatch):
    assert plan_threads(3, cores=2, load=5.0).torch == 3  # the user's count, whatever the load
    assert plan_threads(3, cores=2).source == "--threads"
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    plan = plan_threads(cores=16, load=0.0)
    assert (plan.torch, plan.source) == (4, "OMP_NUM_THREADS")
    assert plan_threads(2, cores=16).torch == 2
    with pytest.raises(ValueError, match="at least 1"):
        plan_threads(0)


def test_torchrun_processes_share_the_cores(monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    plan = plan_threads(concurrent=0, load=0.0)
    assert plan.cores == max(1, usable_cores() // 4)
    assert plan.torch == plan.cores


def test_apply_sets_torch_and_opencv_pools():
    before = (torch.get_num_threads(), cv2.getNumThreads())
    try:
        apply_threads(ThreadPlan(2, 0.0, 1, 1, 1, "--threads"))
        assert (torch.get_num_threads(), cv2.getNumThreads()) == (1, 1)
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def test_threads_option_rejects_nonsense(capsys):
    assert threads_arg("3") == 3
    parser = argparse.ArgumentParser(prog="x")
    add_threads_argument(parser)
    assert parser.parse_args(["--threads", "2"]).threads == 2
    assert parser.parse_args([]).threads is None
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(["--threads", bad])
        assert exc.value.code == 2
        assert "--threads: expected a whole number >= 1" in capsys.readouterr().err
