"""benchmarks.regenerate_all: every docs table's result has a step; the plan and selection."""

from __future__ import annotations

import pytest

from benchmarks import regenerate_all, render_docs
from benchmarks.render_docs import RENDERERS, RESULTS
from cgclip.errors import UserError


def test_every_result_a_table_reads_is_written_by_a_step():
    written = {o.removesuffix(".json") for s in regenerate_all.STEPS for o in s.outputs}
    read = set()
    for fn in RENDERERS.values():
        render_docs._READ.clear()
        try:
            fn(RESULTS)
        except UserError:  # a table whose result is not committed yet
            continue
        read |= {n for n, _ in render_docs._READ}
    assert read, "no renderer read a result"
    assert read <= written, sorted(read - written)
    names = [s.name for s in regenerate_all.STEPS]
    assert names[-1] == "render_docs" and len(set(names)) == len(names)


def test_plan_lists_steps_with_estimates_and_a_total(capsys):
    assert regenerate_all.main(["--list", "--only", "tracker_speed", "tfe_cost"]) == 0
    out = capsys.readouterr().out
    assert "tracker_speed" in out and "tfe_cost" in out and "render_docs" not in out
    assert "total estimate ~30 min" in out


def test_selection_keeps_the_fixed_order():
    steps = regenerate_all.select(
        regenerate_all.STEPS, only=["tfe_cost", "tracker_speed"], skip=[], start=None
    )
    assert [s.name for s in steps] == ["tracker_speed", "tfe_cost"]
    later = regenerate_all.select(regenerate_all.STEPS, skip=["reid_ablation"], start="model_cost")
    assert [s.name for s in later][:2] == ["model_cost", "tfe_cost"]
    assert "reid_ablation" not in [s.name for s in later]
    with pytest.raises(UserError, match="unknown step"):
        regenerate_all.select(regenerate_all.STEPS, only=["nope"])
