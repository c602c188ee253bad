"""Caption-guided memory refinement: refinement, logits and the momentum memory update."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cgclip.model.cmr import CaptionMemoryRefinement


def make(update="video", momentum=0.2, k=3, dim=4):
    cmr = CaptionMemoryRefinement(
        k, dim, heads=2, blocks=2, memory_update=update, momentum=momentum
    )
    cmr.set_memory(torch.eye(k, dim))
    return cmr


def test_refined_memory_starts_as_the_text_memory():
    cmr = make()
    refined = cmr.refine(torch.randn(2, 5, 4))
    assert refined.shape == (2, 3, 4)
    torch.testing.assert_close(refined, torch.eye(3, 4).expand(2, 3, 4))


def test_refinement_depends_on_the_tracklet_once_trained():
    cmr = make()
    torch.nn.init.normal_(cmr.proj_out.weight)
    a, b = cmr.refine(torch.randn(2, 5, 4)).unbind(0)
    assert not torch.allclose(a, b)


def test_key_mask_hides_padding_tokens():
    cmr = make()
    torch.nn.init.normal_(cmr.proj_out.weight)
    v = torch.randn(1, 6, 4)
    padded = torch.cat([v, torch.randn(1, 3, 4) * 50], 1)
    mask = torch.tensor([[True] * 6 + [False] * 3])
    torch.testing.assert_close(cmr.refine(padded, mask), cmr.refine(v), atol=1e-5, rtol=1e-4)


def test_logits_are_cosines_over_temperature():
    cmr = make()
    video = torch.tensor([[3.0, 0.0, 0.0, 0.0]])
    refined = torch.tensor([[[2.0, 0, 0, 0], [1.0, 1.0, 0, 0], [0, 0, 0, 5.0]]])
    expected = torch.tensor([[1.0, 2**-0.5, 0.0]]) / 0.07
    torch.testing.assert_close(cmr.logits(video, refined), expected)


def test_memory_update_video_by_hand():
    cmr = make("video", momentum=0.2)
    labels = torch.tensor([0, 0, 2])
    video = torch.tensor([[0.0, 2.0, 0, 0], [0, 0, 3.0, 0], [0, 0, 0, 1.0]])
    cmr.update_memory(labels, video, torch.zeros(3, 3, 4))
    # id 0: mean of normalised (0,1,0,0) and (0,0,1,0) = (0,.5,.5,0); 0.8*(1,0,0,0) + 0.2*that
    expected0 = F.normalize(torch.tensor([0.8, 0.1, 0.1, 0.0]), dim=0)
    expected2 = F.normalize(torch.tensor([0.0, 0.0, 0.8, 0.2]), dim=0)
    torch.testing.assert_close(cmr.memory[0], expected0)
    torch.testing.assert_close(cmr.memory[1], torch.tensor([0.0, 1.0, 0.0, 0.0]))  # unseen
    torch.testing.assert_close(cmr.memory[2], expected2)


def test_memory_update_refined_uses_the_own_identity_slot():
    cmr = make("refined", momentum=0.5)
    refined = torch.zeros(1, 3, 4)
    refined[0, 1] = torch.tensor([0.0, 0.0, 0.0, 7.0])  # slot of the sample's identity (1)
    refined[0, 0] = torch.tensor([9.0, 9.0, 9.0, 9.0])  # another identity's slot: ignored
    cmr.update_memory(torch.tensor([1]), torch.randn(1, 4), refined)
    torch.testing.assert_close(
        cmr.memory[1], F.normalize(torch.tensor([0.0, 0.5, 0.0, 0.5]), dim=0)
    )
    torch.testing.assert_close(cmr.memory[0], torch.tensor([1.0, 0.0, 0.0, 0.0]))


def test_memory_update_none_keeps_the_memory():
    cmr = make("none")
    cmr.update_memory(torch.tensor([0]), torch.randn(1, 4), torch.randn(1, 3, 4))
    torch.testing.assert_close(cmr.memory, torch.eye(3, 4))


def test_refining_before_the_memory_is_set_fails_loudly():
    cmr = CaptionMemoryRefinement(3, 4, heads=2)
    with pytest.raises(RuntimeError, match="set_memory"):
        cmr.refine(torch.randn(1, 2, 4))
