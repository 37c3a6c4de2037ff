"""Golden outputs: what each generator in CASES computes on one fixed generated image, stored in tests/golden/.

tests/test_golden.py compares the generators with these stored values. When a change of output is meant,
regenerate them and say why (the reason is stored beside the values, so the diff shows it):

    python tests/golden_outputs.py --why 'AE3 decoder reads ...'           # every case
    python tests/golden_outputs.py --why 'new recommended generator' NAME  # one case

To add a generator, add an entry to CASES (e.g. 'name': {'options': 'options/x.yml'}: its network_g with
random weights) and run the command for it. Every output is computed in float64, so float32 rounding (which
differs from CPU to CPU) does not enter and a tolerance of 1e-5 relative catches real changes. Random cases
draw every conv and linear weight at unit scale (weights that start at zero, such as ImageContext's last
layer or a coarse block's 1x1 conv, would otherwise hide their branch).
"""
import argparse
import json
import sys
from os import path as osp

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import msiagan  # noqa: E402,F401  (first: registers the networks and makes basicsr importable)
from basicsr.archs import build_network  # noqa: E402

from msiagan.inference import load_generator, load_network_options  # noqa: E402

GOLDEN_DIR = osp.join(REPO, 'tests', 'golden')
SIZE = (52, 76)  # H, W of the input: not multiples of 8, so the padding and the crop are exercised
SEED = 0
RTOL = 1e-5  # relative to each stored value; values near zero are compared against the output's spread

# name -> {'network': network_g options} or {'options': an options file, whose network_g is used}, with random
# weights from SEED, or with {'weights': a weights file} (its 'params')
CASES = {
    'paper': {'network': {'type': 'MSIAGenerator'}},  # the defaults: the released code, act none
    'improved': {'network': {'type': 'MSIAGenerator', 'act': 'lrelu', 'global_context': True,
                             'coarse_blocks': 4}},  # the paper's generator, LeakyReLU, ImageContext, 4 coarse blocks
    'shipped_lol_v1': {'options': 'msiagan/weights/msiagan_lol_v1.yml',
                       'weights': 'msiagan/weights/msiagan_lol_v1.pth'},
    'recommended': {'options': 'options/train/recommended_gan_lol.yml'},
}

# (row, column) of the sampled output pixels: the corners, the middle and points off the 8-pixel grid
SAMPLES = [(0, 0), (0, 75), (51, 0), (51, 75), (26, 38), (3, 61), (17, 9), (44, 29), (31, 70), (49, 50)]


def golden_input():
    """(1, 3, H, W) float64 in [0, 0.3]: a dim scene of smooth colour gradients, a bright patch and seeded noise."""
    rows, columns = np.mgrid[0:SIZE[0], 0:SIZE[1]] / np.array(SIZE)[:, None, None]
    channels = [0.12 + 0.08 * np.sin(3 * rows + phase) * np.cos(5 * columns - phase) for phase in (0, 1, 2)]
    image = np.stack(channels)
    image[:, 10:24, 40:60] += 0.1  # a lamp: something local for the output to follow
    image += 0.02 * np.random.default_rng(SEED).standard_normal(image.shape)
    return torch.from_numpy(np.clip(image, 0, 0.3))[None]


def unit_scale_weights(net):
    """Redraw every conv and linear weight ~ N(0, 1 / fan_in) and every bias ~ U(-0.1, 0.1), from SEED."""
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
                transposed = isinstance(module, torch.nn.ConvTranspose2d)
                fan_in = module.weight.shape[0] if transposed else module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * fan_in ** -0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.rand(module.bias.shape, generator=generator) * 0.2 - 0.1)
    return net


def build_case(name):
    """The float64 generator of CASES[name], in eval mode."""
    case = CASES[name]
    network = case['network'] if 'network' in case else load_network_options(osp.join(REPO, case['options']))
    if 'weights' in case:
        return load_generator(network, osp.join(REPO, case['weights']), 'params').double()
    torch.manual_seed(SEED)
    return unit_scale_weights(build_network(dict(network))).eval().double()


def summarize(output):
    """The record kept of an output (1, C, H, W): per-channel mean, std, min and max, and the SAMPLES pixels."""
    out = output[0]
    return {
        'shape': list(output.shape),
        'mean': out.mean(dim=(1, 2)).tolist(),
        'std': out.std(dim=(1, 2)).tolist(),
        'min': out.amin(dim=(1, 2)).tolist(),
        'max': out.amax(dim=(1, 2)).tolist(),
        'samples': [out[:, row, column].tolist() for row, column in SAMPLES],
    }


def compute(name, net=None):
    """summarize() of the CASES[name] generator (or of ``net``, a module built by build_case) on golden_input()."""
    net = build_case(name) if net is None else net
    with torch.no_grad():
        return summarize(net(golden_input()))


def golden_path(name):
    return osp.join(GOLDEN_DIR, f'{name}.json')


def load_golden(name):
    with open(golden_path(name)) as f:
        return json.load(f)


def differences(stored, computed):
    """[(field, stored value, computed value)] of the numbers that differ by more than the tolerance."""
    scale = max(stored['std'])
    found = []
    if stored['shape'] != computed['shape']:
        return [('shape', stored['shape'], computed['shape'])]
    for field in ('mean', 'std', 'min', 'max', 'samples'):
        expected, actual = np.asarray(stored[field]), np.asarray(computed[field])
        bad = np.abs(actual - expected) > RTOL * np.maximum(np.abs(expected), scale)
        found += [(f'{field}{list(index)}', expected[index], actual[index]) for index in zip(*np.nonzero(bad))]
    return found


def regenerate(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('names', nargs='*', help=f'cases to regenerate (default: all of {", ".join(CASES)})')
    parser.add_argument('--why', required=True, help='why the stored values change (kept in the file)')
    args = parser.parse_args(argv)
    for name in args.names or CASES:
        if name not in CASES:
            parser.error(f"no case '{name}' (cases: {', '.join(CASES)})")
        computed = compute(name)
        if osp.isfile(golden_path(name)):
            changed = differences(load_golden(name), computed)
            print(f'{name}: {len(changed)} stored value(s) change beyond the tolerance')
        else:
            print(f'{name}: new')
        record = {'case': CASES[name], 'input': {'size': list(SIZE), 'seed': SEED}, 'why': args.why, **computed}
        with open(golden_path(name), 'w') as f:  # a field a line, so that a diff shows which changed
            f.write('{\n' + ',\n'.join(f' {json.dumps(key)}: {json.dumps(value)}' for key, value in record.items())
                    + '\n}\n')


if __name__ == '__main__':
    regenerate()
