"""TensorRT call construction per torch-tensorrt release, checked on the CPU.

``release_compile``/``release_save`` model what each release does with the keywords it is given.
The rules were read from pytorch/TensorRT at each tag vX.Y.0: ``py/torch_tensorrt/_compile.py``
(``compile``, ``save``), ``py/torch_tensorrt/dynamo/_compiler.py`` and ``dynamo/_defaults.py``:

- compile. 2.6-2.9: ``USE_EXPLICIT_TYPING = False``; the engine may use the enabled precisions.
  2.10-2.12: ``USE_EXPLICIT_TYPING = True``, and ``enabled_precisions`` other than {fp32} raise
  ``AssertionError("use_explicit_typing was set to True, however ... enabled_precisions ...")``.
  2.13: the dynamo path has neither keyword (both are swallowed by ``**kwargs``); always strongly
  typed. Strongly typed engines run in the graph's (the input's) dtype.
- save. ``Input`` objects in ``arg_inputs`` raise ``ValueError("Not all inputs provided are
  torch.tensors")`` before 2.11. ``retrace`` defaults to False before 2.10 and True from 2.10.
  ``retrace=False`` serializes the graph with its symbolic batch (legacy exporter). Before 2.11,
  ``retrace=True`` re-exports with ``torch.export.export(module, args)`` and no dynamic shapes,
  so the batch is fixed at the example's. From 2.11, ``retrace=True`` keeps the batch symbolic
  when ``dynamic_shapes`` is given (or every input is an ``Input``). Keywords: 2.6-2.8 take no
  ``**kwargs``; ``dynamic_shapes`` exists from 2.11.
"""

from __future__ import annotations

import pytest
import torch

from cgclip.runtime import BackendUnavailable
from cgclip.runtime.trt import (
    TRT_FLOOR,
    check_trt_version,
    trt_compile_kwargs,
    trt_save_kwargs,
    trt_version,
)

RELEASES = [(2, minor) for minor in range(6, 14)] + [(2, 14), (3, 0)]  # and two future ones
SHAPES = ((1, 3, 256, 128), (16, 3, 256, 128), (64, 3, 256, 128))


class FakeInput:
    """Stands in for ``torch_tensorrt.Input`` (min/opt/max shapes and a dtype)."""

    def __init__(self, *, min_shape, opt_shape, max_shape, dtype) -> None:
        self.shapes = (min_shape, opt_shape, max_shape)
        self.dtype = dtype


def release_compile(version, module, *, ir, inputs, enabled_precisions=None, **kwargs):
    """The precision of the engine ``torch_tensorrt.compile`` builds on ``version``."""
    assert ir == "dynamo"
    graph_dtype = inputs[0].dtype
    if version >= (2, 13):
        assert not set(kwargs) - {"use_explicit_typing"}, kwargs  # swallowed, not understood
        return graph_dtype
    unknown = set(kwargs) - {"use_explicit_typing"}
    assert not unknown, f"{version}: not a compile keyword: {unknown}"
    explicit = kwargs.get("use_explicit_typing", version >= (2, 10))
    precisions = enabled_precisions or {torch.float32}
    if explicit:
        if precisions != {torch.float32}:
            raise AssertionError(
                "use_explicit_typing was set to True, however found that enabled_precisions "
                "was also specified"
            )
        return graph_dtype
    return torch.float16 if torch.float16 in precisions else torch.float32


def release_save(version, module, path, **kwargs):
    """ "dynamic" or "static": the batch dimension of what ``torch_tensorrt.save`` writes."""
    known = {"output_format", "inputs", "arg_inputs", "kwarg_inputs", "retrace"}
    if version >= (2, 9):
        known |= {"pickle_protocol"}
    if version >= (2, 11):
        known |= {"dynamic_shapes", "use_legacy_exporter", "extra_files"}
    unknown = set(kwargs) - known
    if unknown and version < (2, 9):
        raise TypeError(f"save() got an unexpected keyword argument {unknown}")
    assert not unknown, f"{version}: swallowed by **kwargs, not understood: {unknown}"
    assert kwargs.get("output_format", "exported_program") == "exported_program"
    arg_inputs = kwargs.get("arg_inputs") or kwargs.get("inputs")
    tensors_only = arg_inputs is None or all(isinstance(x, torch.Tensor) for x in arg_inputs)
    if version < (2, 11) and not tensors_only:
        raise ValueError("Not all inputs provided are torch.tensors")
    retrace = kwargs.get("retrace", version >= (2, 10))
    if not retrace:
        return "dynamic"  # the legacy exporter keeps the compiled graph's symbolic batch
    if arg_inputs is None:
        raise ValueError("retrace is True, however the inputs or arg_inputs are empty")
    if version < (2, 11):
        return "static"  # torch.export.export(module, tuple(arg_inputs)): no dynamic shapes
    all_input_objects = all(isinstance(x, FakeInput) for x in arg_inputs)
    return "dynamic" if kwargs.get("dynamic_shapes") or all_input_objects else "static"


def _build_and_save(version, precision):
    compile_kwargs = trt_compile_kwargs(version, precision, SHAPES, make_input=FakeInput)
    engine = release_compile(version, object(), **compile_kwargs)
    example = torch.zeros(16, 3, 256, 128)
    saved = release_save(version, object(), "x.ep", **trt_save_kwargs(version, example, (1, 64)))
    return engine, saved


@pytest.mark.parametrize("version", RELEASES, ids=lambda v: f"{v[0]}.{v[1]}")
@pytest.mark.parametrize("precision", ["fp16", "fp32"])
def test_each_release_builds_the_asked_precision_and_saves_a_dynamic_batch(version, precision):
    engine, saved = _build_and_save(version, precision)
    assert engine == {"fp16": torch.float16, "fp32": torch.float32}[precision]
    assert saved == "dynamic"


def test_the_keywords_differ_where_the_releases_do():
    half = torch.float16
    k = {v: trt_compile_kwargs(v, "fp16", SHAPES) for v in [(2, 9), (2, 10), (2, 12), (2, 13)]}
    assert k[(2, 9)]["enabled_precisions"] == {half} and "use_explicit_typing" not in k[(2, 9)]
    for v in [(2, 10), (2, 12)]:
        assert k[v]["use_explicit_typing"] is True and "enabled_precisions" not in k[v]
    assert set(k[(2, 13)]) == {"ir", "inputs"}
    spec = k[(2, 13)]["inputs"][0]  # the default make_input (dict) shows the profile
    assert spec == {
        "min_shape": SHAPES[0],
        "opt_shape": SHAPES[1],
        "max_shape": SHAPES[2],
        "dtype": half,
    }
    example = torch.zeros(16, 3, 256, 128)
    assert trt_save_kwargs((2, 10), example, (1, 64)) == {
        "output_format": "exported_program",
        "retrace": False,
    }
    new = trt_save_kwargs((2, 11), example, (1, 64))
    assert new["arg_inputs"] == [example] and new["retrace"] is True
    (batch,) = new["dynamic_shapes"][0].values()
    assert (batch.min, batch.max) == (1, 64)
    assert "dynamic_shapes" not in trt_save_kwargs((2, 11), example, (8, 8))  # a fixed batch


def test_the_model_of_the_releases_catches_the_calls_that_failed():
    """The call the backend made before (enabled_precisions={half} everywhere, Input objects to
    save) fails on the releases issue 14 names; the model must say so, or it checks nothing."""
    inputs = [FakeInput(min_shape=SHAPES[0], opt_shape=SHAPES[1], max_shape=SHAPES[2], dtype=1)]
    for version in [(2, 10), (2, 11), (2, 12)]:
        with pytest.raises(AssertionError, match="use_explicit_typing"):
            release_compile(
                version, None, ir="dynamo", inputs=inputs, enabled_precisions={torch.float16}
            )
    for version in [(2, 6), (2, 10)]:
        with pytest.raises(ValueError, match="Not all inputs provided are torch.tensors"):
            release_save(version, None, "x", output_format="exported_program", arg_inputs=inputs)
    # 2.10 retraces by default, which fixes the batch at the example's
    assert release_save((2, 10), None, "x", arg_inputs=[torch.zeros(2)]) == "static"
    with pytest.raises(TypeError):  # 2.6-2.8 have no dynamic_shapes and no **kwargs
        release_save((2, 8), None, "x", retrace=True, dynamic_shapes=())


def test_the_save_dynamic_shapes_export_any_batch_in_the_profile(make_tiny_model):
    """From 2.11 save re-exports with torch.export and our dynamic_shapes: they must be valid
    for torch.export on the encoder (positional spec, batch Dim over the profile)."""
    from cgclip.runtime import FrameEncoder

    model = make_tiny_model()
    h, w = model.preprocess.size
    encoder = FrameEncoder(model.image_encoder, keep_cls=False).eval()
    example = torch.zeros(2, 3, h, w)
    kwargs = trt_save_kwargs((2, 11), example, (1, 8))
    program = torch.export.export(
        encoder, tuple(kwargs["arg_inputs"]), dynamic_shapes=kwargs["dynamic_shapes"]
    )
    for n in (1, 5, 8):
        crops = torch.randn(n, 3, h, w)
        with torch.no_grad():
            assert torch.allclose(program.module()(crops), encoder(crops), atol=1e-5)


def test_versions_are_read_and_the_floor_is_one_line():
    assert trt_version("2.10.0+cu130") == (2, 10)
    assert trt_version("2.11.0.dev20250601+cu128") == (2, 11)
    assert trt_version("v2.6.1") == (2, 6)
    with pytest.raises(ValueError):
        trt_version("unknown")
    assert check_trt_version("2.13.0") == (2, 13) and TRT_FLOOR == (2, 6)
    with pytest.raises(BackendUnavailable) as err:
        check_trt_version("2.5.0")
    message = str(err.value)
    assert "\n" not in message and "torch-tensorrt >= 2.6" in message and "found 2.5.0" in message
    assert "--backend onnx|compile|eager" in message
    with pytest.raises(BackendUnavailable, match="cannot read the torch-tensorrt version"):
        check_trt_version("unknown")
