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
- a generator with an exposure condition (MSIAGenerator's ``exposure_condition``) also has the input ``exposure``
  (N,), optional: the linear mean each output should have, NaN (its default) for the generator's own choice. It
  goes into ``image_global_features``, so tiles get it with the whole image's features.

Why one graph with an optional input rather than two graphs: one file that an app runs with the image alone, as
the generator runs; for tiles, the sub-graph image -> image_global_features (``onnx.utils.Extractor``) gives the
whole image's features once, and each tile's own, computed and unused, cost about 0.5% of the tile.

Metadata (``metadata_props``, strings): 'receptive_radius' (tiles with that much context give the whole image's
output), 'global_parts' (JSON true or false: whether the output depends on the image's features other than an exposure
asked for, msiagan.inference.generator.has_global_parts), 'network_g' (JSON), 'weights' (the file's name) and, where
the weights have one beside them,
'exposure_range' (JSON, as in <weights stem>.yml), which msiagan-enhance --onnx uses for its exposure handling.
"""
import json
import warnings
from os import path as osp

import torch
from torch import nn

from msiagan.archs.global_branch import whole_image_modulations
from msiagan.inference.generator import has_global_parts
from msiagan.utils.errors import InputError
from msiagan.utils.writing import write_atomically, write_failure

OPSET = 18
PLACES = ('coarse', 'head')  # the order of the modulations in global_features
INPUTS, OUTPUTS = ('image', 'global_features', 'exposure'), ('output', 'image_global_features')
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
    """The traced module of a generator with global parts: (image, global_features[, exposure]) -> (output, image's
    features [at that exposure])."""

    def __init__(self, net, places):
        super().__init__()
        self.net, self.places = net, places

    def forward(self, image, global_features, exposure=None):
        features = self.net.global_features(image) if exposure is None else features_at(self.net, image, exposure)
        own = flatten_features(features, self.places)
        given = torch.where(torch.isnan(global_features), own, global_features)
        return self.net(image, unflatten_features(given, self.places)), own


def features_at(net, image, exposure):
    """``net.global_features`` of image (N, C, H, W) at ``exposure`` (N,) or (1,), where it is not NaN, as a graph
    can compute it for every image at once: the exposure condition's modulations of NaN images are (1, 0)."""
    exposure = exposure + image.new_zeros(image.shape[0])  # (1,), the input's default, broadcast to (N,) in the graph
    asked = ~torch.isnan(exposure)[:, None, None, None]

    def condition_where_asked(x, target, statistics):
        return {place: (torch.where(asked, scale, 1.0), torch.where(asked, shift, 0.0))
                for place, (scale, shift) in net.exposure_condition(x, target, statistics).items()}

    return whole_image_modulations(image, [net.context, net.global_branch], condition_where_asked,
                                   torch.nan_to_num(exposure, nan=1.0))


def takes_exposure(net):
    """Whether ``net`` has an exposure condition (MSIAGenerator's ``exposure_condition``)."""
    return getattr(net, 'exposure_condition', None) is not None


def global_places(net, num_in_ch):
    """The places of ``PLACES`` that ``net``'s global parts, exposure condition included, modulate (none without)."""
    if not hasattr(net, 'global_features'):
        return []
    with torch.no_grad():
        features = net.global_features(torch.rand(1, num_in_ch, 8, 8), 0.1 if takes_exposure(net) else None)
    return [place for place in PLACES if place in features]


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
            sample = net.global_features(image, 0.1 if takes_exposure(net) else None)
            features = torch.full_like(flatten_features(sample, places), float('nan'))
            args, dims, names = (image, features), (image_dims, {0: batch}), (INPUTS[:2], OUTPUTS)
            if takes_exposure(net):
                exposure = torch.full((SAMPLE_SHAPE[0],), float('nan'))
                args, dims, names = args + (exposure,), dims + ({0: batch},), (INPUTS, OUTPUTS)
        else:
            module, args, dims, names = net, (image,), (image_dims,), (INPUTS[:1], OUTPUTS[:1])
        warnings.filterwarnings('ignore', '.*The axis name')  # batch named once, for image and global_features
        program = torch.onnx.export(module, args, dynamo=True, opset_version=OPSET, input_names=list(names[0]),
                                    output_names=list(names[1]), dynamic_shapes=dims, verbose=False)
    model = program.model_proto
    for default, name in zip(args[1:], INPUTS[1:]):  # NaN, the default of each optional input: an initializer
        model.graph.initializer.append(onnx.numpy_helper.from_array(default[:1].numpy(), name))
    metadata = {'receptive_radius': getattr(net, 'receptive_radius', None),
                'global_parts': json.dumps(has_global_parts(net)), 'network_g': json.dumps(network_opt),
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
