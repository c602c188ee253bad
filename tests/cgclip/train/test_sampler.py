"""PK sampler."""

from __future__ import annotations

from collections import Counter

import pytest

from cgclip.train.sampler import PKBatchSampler

LABELS = [i // 6 for i in range(6 * 10)]  # 10 ids x 6 tracklets


def test_every_batch_is_p_ids_times_k_tracklets():
    sampler = PKBatchSampler(LABELS, ids_per_batch=4, tracklets_per_id=3, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) > 0
    for batch in batches:
        counts = Counter(LABELS[i] for i in batch)
        assert len(counts) == 4 and set(counts.values()) == {3}
        assert len(set(batch)) == 12  # no repeats when every id has >= K tracklets


def test_order_is_deterministic_per_epoch_and_changes_between_epochs():
    a = PKBatchSampler(LABELS, 4, 3, seed=1)
    b = PKBatchSampler(LABELS, 4, 3, seed=1)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first


def test_identities_with_too_few_tracklets_are_sampled_with_replacement():
    labels = [0, 0, 0, 0, 1, 1, 1, 1, 2]  # id 2 has one tracklet
    with pytest.warns(UserWarning, match="fewer than 4 tracklets"):
        sampler = PKBatchSampler(labels, ids_per_batch=2, tracklets_per_id=4, seed=0)
    appearances = 0
    for epoch in range(5):
        sampler.set_epoch(epoch)
        for batch in sampler:
            short = [i for i in batch if labels[i] == 2]
            assert short in ([], [8, 8, 8, 8])
            appearances += bool(short)
    assert appearances > 0


def test_ranks_split_the_same_epoch_without_overlap():
    r0 = PKBatchSampler(LABELS, 2, 3, seed=0, rank=0, world_size=2)
    r1 = PKBatchSampler(LABELS, 2, 3, seed=0, rank=1, world_size=2)
    one = PKBatchSampler(LABELS, 2, 3, seed=0)
    assert len(r0) == len(r1) > 0
    assert sorted(map(tuple, [*r0, *r1])) == sorted(map(tuple, list(one)[: 2 * len(r0)]))
    assert not set(map(tuple, r0)) & set(map(tuple, r1))


def test_fewer_identities_than_p_is_an_error():
    with pytest.raises(ValueError, match="fewer than 8"):
        PKBatchSampler([0, 1, 2], ids_per_batch=8, tracklets_per_id=1)
