"""A trained generator as an ONNX file, to run without PyTorch (scripts/model_conversion/export_onnx.py writes it;
msiagan.inference.onnx_runtime runs it).

The graph, float32, ONNX opset ``OPSET``, dynamic batch, height and width (padding to the generator's grid is inside
it, see msiagan.archs.arch_util.pad_to_multiple):

- input ``image`` (N, C, H, W) in [0, 1]; output ``output`` (N, C_out, H, W): the generator's raw output (not
  clamped: clamp it to [0, 1]). No exposure handling (msiagan.inference.exposure): the generator only.
- a generator with global parts (``global_context``, ``global_branch``) also has the input ``global_features``
  (N, K), optional: its default, NaN, means "those of ``image``"; give the whole image's when ``image`` is a tile
  of it. And the output ``image_global_features`` (N, K): those of ``image``. K holds the (scale, shift) of each
  place in ``PLACES`` that the generator modulates, F channels each, in that order.

Why one graph with an optional input rather than two graphs: one file that an app runs with the image alone, as
the generator runs; for tiles, the sub-graph image -> image_global_features (``onnx.utils.Extractor``) gives the
whole image's features once, and each tile's own, computed and unused, cost about 0.5% of the tile.

Metadata (``metadata_props``, strings): 'receptive_radius' (tiles with that much context give the whole image's
output), 'network_g' (JSON), 'weights' (the file's name) and, where the weights have one beside them,
'exposure_range' (JSON, as in <weights stem>.yml), which msiagan-enhance --onnx uses for its exposure handling.
"""
import json
import warnings
from os import path as osp

import torch
from torch import nn

from msiagan.utils.errors import InputError
from msiagan.utils.writing import write_atomically, write_failure

OPSET = 18
PLACES = ('coarse', 'head')  # the order of the modulations in global_features
INPUTS, OUTPUTS = ('image', 'global_features'), ('output', 'image_global_features')
SAMPLE_SHAPE = (2, 40, 56)  # N, H, W traced (not 1: a traced size 1 would stay 1); tests/test_onnx.py checks others


def import_onnx():
    """The onnx package, or a one-line InputError saying how to install it (an optional extra)."""
    try:
        import onnx
    except ImportError:
        raise InputError("ONNX export needs the onnx package: pip install 'msiagan[onnx]'") from None
    return onnx


def flatten_features(features, places):
    """{place: (scale, shift)}, (N, F, 1, 1) each -> (N, K): scale and shift of each of ``places`` in turn."""
    return torch.cat([part.flatten(1) for place in places for part in features[place]], 1)


def unflatten_features(flat, places):
    """(N, K) of ``flatten_features`` -> {place: (scale, shift)}, (N, F, 1, 1) each."""
    parts = flat[..., None, None].chunk(2 * len(places), dim=1)
    return {place: (parts[2 * i], parts[2 * i + 1]) for i, place in enumerate(places)}


class _WithGlobalFeatures(nn.Module):
    """The traced module of a generator with global parts: (image, global_features) -> (output, image's features)."""

    def __init__(self, net, places):
        super().__init__()
        self.net, self.places = net, places

    def forward(self, image, global_features):
        own = flatten_features(self.net.global_features(image), self.places)
        given = torch.where(torch.isnan(global_features), own, global_features)
        return self.net(image, unflatten_features(given, self.places)), own


def global_places(net, num_in_ch):
    """The places of ``PLACES`` that ``net``'s global parts modulate (none without them)."""
    if not hasattr(net, 'global_features'):
        return []
    with torch.no_grad():
        return [place for place in PLACES if place in net.global_features(torch.rand(1, num_in_ch, 8, 8))]


def export_onnx(net, out, network_opt, weights=None, exposure_range=None):
    """Write ``net`` (a generator in eval mode, float32, CPU) as the ONNX graph of the module docstring to ``out``.

    network_opt (dict), weights (str) and exposure_range (dict, the block of <weights stem>.yml) go into its metadata.
    Returns the model (onnx.ModelProto).
    """
    onnx = import_onnx()
    num_in_ch = network_opt.get('num_in_ch', 3)
    places = global_places(net, num_in_ch)
    image = torch.rand(SAMPLE_SHAPE[0], num_in_ch, *SAMPLE_SHAPE[1:])
    batch, height, width = torch.export.Dim('batch'), torch.export.Dim('height'), torch.export.Dim('width')
    image_dims = {0: batch, 2: height, 3: width}
    with torch.no_grad(), warnings.catch_warnings():
        if places:
            module = _WithGlobalFeatures(net, places).eval()
            features = torch.full_like(flatten_features(net.global_features(image), places), float('nan'))
            args, dims, names = (image, features), (image_dims, {0: batch}), (INPUTS, OUTPUTS)
        else:
            module, args, dims, names = net, (image,), (image_dims,), (INPUTS[:1], OUTPUTS[:1])
        warnings.filterwarnings('ignore', '.*The axis name')  # batch named once, for image and global_features
        program = torch.onnx.export(module, args, dynamo=True, opset_version=OPSET, input_names=list(names[0]),
                                    output_names=list(names[1]), dynamic_shapes=dims, verbose=False)
    model = program.model_proto
    if places:  # NaN, the default of global_features: an initializer that a feed overrides
        model.graph.initializer.append(onnx.numpy_helper.from_array(features[:1].numpy(), INPUTS[1]))
    metadata = {'receptive_radius': getattr(net, 'receptive_radius', None), 'network_g': json.dumps(network_opt),
                'weights': weights and osp.basename(weights),
                'exposure_range': exposure_range and json.dumps(exposure_range)}
    for key, value in metadata.items():
        if value is not None:
            model.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(model)
    try:
        write_atomically(out, model.SerializeToString())
    except OSError as error:
        raise write_failure(out, error) from None
    return model
