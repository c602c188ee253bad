"""tracker_quality's reuse of the peers' tuning from an earlier run."""

from __future__ import annotations

import json

from benchmarks.tracker_quality import _previous_peer_tuning


def _result(**kw) -> dict:
    base = {"data": "data/synth-full", "budget": {"peer_trials": 60, "peer_refine": 12}}
    return {**base, "seed": 0, "boxmot": "25.0.0", **kw}


def test_peer_tuning_is_reused_only_from_a_run_with_the_same_data_budget_seed_and_boxmot(
    tmp_path,
):
    out = tmp_path / "tracker_quality.json"
    tuning = {"params": {"track_thresh": 0.3}, "objective": 61.0}
    rows = {
        "ours": {"config": {}},
        "bytetrack (default)": {"params": {}},
        "bytetrack (tuned on train)": {"params": tuning["params"], "tuning": tuning},
    }
    old = {"data": "data/synth-full", "kinds": {"dance": rows}}  # written before budgets were
    out.write_text(json.dumps(old))
    assert _previous_peer_tuning(out, _result()) == {("bytetrack", "dance"): tuning}
    assert _previous_peer_tuning(out, _result(budget={"peer_trials": 10, "peer_refine": 12})) == {}
    assert _previous_peer_tuning(out, _result(seed=1)) == {}
    assert _previous_peer_tuning(out, _result(data="elsewhere")) == {}
    assert _previous_peer_tuning(out, _result(boxmot="26.0.0")) == {}  # old run: the pinned one
    out.write_text(json.dumps(old | {"budget": {"peer_trials": 10, "peer_refine": 2}}))
    budget = {"peer_trials": 10, "peer_refine": 2}
    assert _previous_peer_tuning(out, _result(budget=budget)) != {}
    assert _previous_peer_tuning(tmp_path / "missing.json", _result()) == {}


def test_the_pinned_boxmot_is_the_one_the_setup_script_installs():
    from pathlib import Path

    from benchmarks.tracker_common import PINNED_BOXMOT, REPO_ROOT

    script = Path(REPO_ROOT, "benchmarks", "setup_bench_env.sh").read_text()
    assert f'"boxmot=={PINNED_BOXMOT}"' in script
