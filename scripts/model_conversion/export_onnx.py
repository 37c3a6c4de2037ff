"""Export a trained generator to ONNX, to run without PyTorch (onnxruntime, or msiagan-enhance --onnx).

    pip install 'msiagan[onnx]'
    python scripts/model_conversion/export_onnx.py -o msiagan_lol_v1.onnx                # the shipped weights
    python scripts/model_conversion/export_onnx.py -o my.onnx --weights net_g.pth [--options O.yml]

The graph (msiagan/inference/onnx_export.py): float32, opset 18, any batch, height and width (the padding to the
generator's grid and the global branch inside it), input 'image' (N, 3, H, W) in [0, 1], output 'output' (the
generator's raw output: clamp it to [0, 1]). A generator with global parts also takes the optional input
'global_features' (the whole image's, for tiles) and gives 'image_global_features'; one with an exposure condition
also takes the optional input 'exposure' (N,), the linear mean each output should have (NaN: the generator's own
choice). The file holds the generator only: exposure handling (msiagan/inference/exposure.py) is not in the graph;
the training range beside the weights goes into its metadata, for msiagan-enhance --onnx. The export is run by
onnxruntime and by PyTorch on a random odd-sized image and their largest difference printed.
"""
import argparse
from os import path as osp

import torch

import msiagan  # noqa: F401  (first: makes basicsr importable, registers the networks)
from msiagan.inference import load_generator, network_options_from
from msiagan.inference.exposure import ExposureRange, stored_block
from msiagan.inference.onnx_export import OPSET, export_onnx
from msiagan.inference.onnx_runtime import OnnxGenerator
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.weights import SHIPPED_WEIGHTS, add_param_key_argument, find_options

CHECK_SIZE = (333, 517)  # H, W of the image both run on


def export(out, weights=SHIPPED_WEIGHTS, options=None, param_key=None):
    """Write ``out`` (.onnx) from ``weights`` and the network of ``options`` (default: beside them); returns the
    largest |onnxruntime - PyTorch| on a random CHECK_SIZE image and the OnnxGenerator of ``out`` that gave it."""
    if not out.endswith('.onnx'):
        raise InputError(f'-o {out}: must end with .onnx')
    network_opt = network_options_from(options or find_options(weights))
    net = load_generator(network_opt, weights, param_key).float()
    block, source = stored_block(weights)
    if block is not None:
        ExposureRange.from_options(block, source)  # refuses a malformed one here
    export_onnx(net, out, dict(network_opt), weights, block)
    x = torch.rand(1, network_opt.get('num_in_ch', 3), *CHECK_SIZE, generator=torch.Generator().manual_seed(0))
    generator = OnnxGenerator(out)
    with torch.no_grad():
        return (generator(x) - net(x)).abs().max().item(), generator


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-o', '--out', required=True, help='the ONNX file to write (.onnx)')
    parser.add_argument('--weights', default=SHIPPED_WEIGHTS,
                        help='a BasicSR checkpoint or generator weights (default: the shipped LOL-v1 weights)')
    parser.add_argument('-opt', '--options', help='options file with network_g (default: <weights stem>.yml beside '
                        "the weights, or the experiment's copy)")
    add_param_key_argument(parser, 'a BasicSR checkpoint')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('export_onnx.py', lambda: report(args))


def report(args):
    difference, generator = export(args.out, args.weights, args.options, args.param_key)
    inputs = ', '.join(['image'] + ['global_features'] * bool(generator.features_session)
                       + ['exposure'] * bool(generator.exposure_condition))
    print(f'{args.out}: opset {OPSET}, {osp.getsize(args.out) / 2**20:.2f} MB, inputs {inputs}, receptive_radius '
          f'{getattr(generator, "receptive_radius", "none")}, exposure range {"stored" if generator.exposure_range else "none"}; '
          f'max |onnxruntime - PyTorch| {difference:.1e} at {CHECK_SIZE[1]}x{CHECK_SIZE[0]}')


if __name__ == '__main__':
    main()
