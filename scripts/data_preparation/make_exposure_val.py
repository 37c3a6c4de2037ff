"""Two small validation sets that show how a model treats exposure while it trains (issue 46): references given as
inputs, which must come back unchanged, and references darkened in linear light (no noise), which must come back to
the reference.

    python scripts/data_preparation/make_exposure_val.py --src datasets/LOL-v1/our485/high \
        --meta-info msiagan/data/meta_info/lol_v1_val.txt --out datasets/LOL-v1/exposure_val

writes OUT/references_in/{low,high}/<stem>.png and OUT/darkened_x<factor>/{low,high}/<stem>.png for --count
references evenly spaced through the (meta-info's) sorted stems; 'high' is the reference, 'low' the input
(msiagan.metrics.exposure.darken_in_linear_light, as compare.py --sweep darkens). Options name them as
PairedLowLightDataset folders (options/train/exposure_lol.yml).
"""
import argparse
import os
from os import path as osp

import cv2

from msiagan.data.pairing import listed_images
from msiagan.metrics.exposure import darken_in_linear_light
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError


def evenly_spaced(stems, count):
    """``count`` of ``stems`` (sorted) evenly spaced from the first to the last."""
    stems = sorted(stems)
    if count >= len(stems):
        return stems
    return [stems[round(i * (len(stems) - 1) / max(count - 1, 1))] for i in range(count)]


def write_image(path, img):
    if not cv2.imwrite(path, img):
        raise InputError(f'{path}: cannot write')


def write_exposure_val(args):
    if args.count < 1 or args.factor <= 0:
        raise InputError('--count takes a whole number of at least 1, --factor a number above 0')
    paths = dict(listed_images(args.src, args.meta_info))
    sets = {'references_in': lambda img: img, f'darkened_x{args.factor:g}': lambda img: darken_in_linear_light(
        img, args.factor)}
    for name in sets:
        for role in ('low', 'high'):
            os.makedirs(osp.join(args.out, name, role), exist_ok=True)
    chosen = evenly_spaced(paths, args.count)
    for stem in chosen:
        img = cv2.imread(paths[stem], cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f'{paths[stem]}: not a readable image')
        for name, make_input in sets.items():
            write_image(osp.join(args.out, name, 'high', f'{stem}.png'), img)
            write_image(osp.join(args.out, name, 'low', f'{stem}.png'), make_input(img))
    print(f"{args.out}: {', '.join(sets)}, {len(chosen)} pairs each ({' '.join(chosen)})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--src', required=True, help='folder of references')
    parser.add_argument('--meta-info', help='only the stems this BasicSR meta_info file lists')
    parser.add_argument('--out', required=True, help='folder to write')
    parser.add_argument('--count', type=int, default=8, help='references to use (default: 8)')
    parser.add_argument('--factor', type=float, default=0.1, help='darkening in linear light (default: 0.1)')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('make_exposure_val.py', lambda: write_exposure_val(args))


if __name__ == '__main__':
    main()
