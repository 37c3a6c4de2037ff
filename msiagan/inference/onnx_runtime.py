"""An ONNX export of a generator (msiagan.inference.onnx_export) run by onnxruntime on the CPU, as a generator:
what ``Enhancer(onnx=...)``, so msiagan-enhance --onnx, runs, whole or in tiles (msiagan.inference.tiling)."""
import json

import numpy as np
import torch

from msiagan.utils.errors import InputError

from .exposure import ExposureRange
from .onnx_export import INPUTS, OUTPUTS, import_onnx


def import_onnxruntime():
    """The onnxruntime package, or a one-line InputError saying how to install it (an optional extra)."""
    try:
        import onnxruntime
    except ImportError:
        raise InputError("--onnx needs onnxruntime: pip install 'msiagan[onnx]'") from None
    return onnxruntime


def read_model(path):
    """The onnx.ModelProto in ``path``; a one-line InputError naming it if it is not an ONNX model."""
    onnx = import_onnx()
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model)
    except FileNotFoundError:
        raise InputError(f'{path}: ONNX model file does not exist') from None
    except Exception as error:  # protobuf's DecodeError, onnx's ValidationError, ...: the file is not a model
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f'{path}: not an ONNX model ({first_line})') from None
    return model


def check_signature(model, path):
    """Refuse a model whose inputs and outputs are not those of an export: 'image' (rank 4) and, with global parts,
    'global_features' (rank 2) and, with an exposure condition, 'exposure' (rank 1) in; 'output' (rank 4) and then
    'image_global_features' out."""
    inputs = {value.name: len(value.type.tensor_type.shape.dim) for value in model.graph.input}
    outputs = [value.name for value in model.graph.output]
    expected = [({INPUTS[0]: 4}, OUTPUTS[:1]), ({INPUTS[0]: 4, INPUTS[1]: 2}, list(OUTPUTS)),
                ({INPUTS[0]: 4, INPUTS[1]: 2, INPUTS[2]: 1}, list(OUTPUTS))]
    if not any(inputs == names and outputs == list(out) for names, out in expected):
        raise InputError(f'{path}: inputs {", ".join(inputs)} and outputs {", ".join(outputs)}: not a generator '
                         'exported by export_onnx.py (image [and global_features [and exposure]] in, output [and '
                         'image_global_features] out)')


class OnnxGenerator:
    """The generator of an ONNX export, called as the PyTorch one: x (N, C, H, W) float32 in [0, 1] on the CPU,
    optional global_features or exposure -> (N, C_out, H, W) float32 (raw, not clamped).

    Args:
        path (str): the .onnx file.
        threads (int | None): onnxruntime's intra-op threads (None: its default, the physical cores).

    Attributes:
        path (str): the file.
        receptive_radius (int): the context tiles need to give the whole image's output (as the generator's; absent
            for a generator that has none, so tiles get ``tile_context``'s default).
        exposure_range (ExposureRange | None): the training range stored in the file, for exposure handling.
        exposure_condition (bool | None): True if the graph takes an ``exposure`` (the generator's exposure
            condition), so that exposure handling renders the exposure it sets; None if not, as on the generator.
        global_parts (bool): whether the output depends on the image's features other than an exposure asked for
            (msiagan.inference.generator.has_global_parts; in an export from before that metadata: whether the graph
            takes ``global_features``).
    """

    def __init__(self, path, threads=None):
        onnxruntime = import_onnxruntime()
        model = read_model(path)
        check_signature(model, path)
        metadata = {prop.key: prop.value for prop in model.metadata_props}
        self.path = path
        try:
            if 'receptive_radius' in metadata:  # a generator without one (UNetGenerator) gets tile_context's default
                self.receptive_radius = int(metadata['receptive_radius'])
            range_block = json.loads(metadata['exposure_range']) if 'exposure_range' in metadata else None
            global_parts = json.loads(metadata['global_parts']) if 'global_parts' in metadata else None
        except ValueError as error:  # json.JSONDecodeError too
            raise InputError(f'{path}: its metadata cannot be read ({type(error).__name__}: {error})') from None
        self.exposure_range = None if range_block is None else ExposureRange.from_options(range_block, path)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: not the warning that global_features's default can be fed
        if threads:
            options.intra_op_num_threads = threads

        def session(proto):
            return onnxruntime.InferenceSession(proto.SerializeToString(), options, providers=['CPUExecutionProvider'])

        self.session = session(model)
        self.errors = tuple(error for error in vars(onnxruntime.capi.onnxruntime_pybind11_state).values()
                            if isinstance(error, type) and issubclass(error, Exception))
        input_names = [value.name for value in model.graph.input]
        self.exposure_condition = True if INPUTS[2] in input_names else None
        self.features_session = None
        if len(input_names) > 1:  # the whole image's features, without running the generator
            onnx = import_onnx()
            features_inputs = [name for name in input_names if name != INPUTS[1]]
            self.features_session = session(onnx.utils.Extractor(model).extract_model(features_inputs, [OUTPUTS[1]]))
        self.global_parts = self.features_session is not None if global_parts is None else bool(global_parts)

    def global_features(self, x, exposure=None):
        """The whole image x's (N, K) global features, to pass to tiles of it, at ``exposure`` (a number or (N,),
        the output's target linear mean; default: the generator's own choice); None without global parts."""
        if self.features_session is None:
            return None
        return self._run(self.features_session, OUTPUTS[1], {INPUTS[0]: _array(x), **self._exposure_feed(x, exposure)})

    def __call__(self, x, global_features=None, exposure=None):
        feeds = {INPUTS[0]: _array(x), **self._exposure_feed(x, exposure)}
        if global_features is not None:
            if exposure is not None:
                raise InputError(f'{self.path}: give the exposure to global_features, not beside its result')
            feeds[INPUTS[1]] = _array(global_features)
        return self._run(self.session, OUTPUTS[0], feeds)

    def _exposure_feed(self, x, exposure):
        """{'exposure': (N,) float32} for ``exposure`` (a number or (N,)), or {} for None; an InputError for an
        exposure given to a graph without the input."""
        if exposure is None:
            return {}
        if not self.exposure_condition:
            raise InputError(f'{self.path}: an exposure was given to a generator without exposure_condition')
        return {INPUTS[2]: _array(torch.as_tensor(exposure, dtype=torch.float32).reshape(-1).expand(len(x)))}

    def _run(self, session, output, feeds):
        """``output`` of ``session`` on ``feeds``, a tensor; onnxruntime's errors as RuntimeError (one line), which
        msiagan-enhance reports for the image before it goes on with the next."""
        try:
            return torch.from_numpy(session.run([output], feeds)[0])
        except self.errors as error:
            raise RuntimeError(f'onnxruntime: {str(error).strip().splitlines()[0]}') from None


def _array(tensor):
    """A float32 C-contiguous numpy array of a CPU tensor."""
    return np.ascontiguousarray(tensor.detach().float().numpy())
