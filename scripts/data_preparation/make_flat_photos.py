"""Flat test photos for grid energy: references smoothed so that they hold no detail at the 8-pixel scale, then
darkened in linear light. What a generator's outputs of them carry at 2, 4 and 8 pixels is its own pattern, as in the
flat areas (sky, walls, skin) of real photos; measure it with scripts/metrics/compare.py --unpaired.

    python scripts/data_preparation/make_flat_photos.py --src datasets/LOL-v1/our485/high \
        --meta-info msiagan/data/meta_info/lol_v1_val.txt --out datasets/flat_val
    python scripts/metrics/compare.py --data datasets/LOL-v1/our485 --meta-info msiagan/data/meta_info/lol_v1_val.txt \
        --unpaired datasets/flat_val --model shipped options/test_lol.yml msiagan/weights/msiagan_lol_v1.pth

writes OUT/<stem>_x<factor>.png for each image and each --exposures factor: the image blurred (Gaussian, --sigma
pixels), times the factor in linear light, rounded to uint8 (msiagan.metrics.exposure.darken_in_linear_light).
"""
import argparse
import os
from os import path as osp

import cv2

from msiagan.data.pairing import listed_images
from msiagan.metrics.exposure import darken_in_linear_light
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError


def flat_photo(img, sigma, factor):
    """A uint8 (H, W, 3) image blurred by a Gaussian of ``sigma`` pixels and darkened ``factor`` times in linear
    light."""
    return darken_in_linear_light(cv2.GaussianBlur(img, (0, 0), sigma), factor)


def write_flat_photos(args):
    if args.sigma <= 0 or not args.exposures or min(args.exposures) <= 0:
        raise InputError('--sigma and --exposures take numbers above 0')
    images = listed_images(args.src, args.meta_info)
    os.makedirs(args.out, exist_ok=True)
    for stem, path in images:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f'{path}: not a readable image')
        for factor in args.exposures:
            out = osp.join(args.out, f'{stem}_x{factor:g}.png')
            if not cv2.imwrite(out, flat_photo(img, args.sigma, factor)):
                raise InputError(f'{out}: cannot write')
    print(f'{args.out}: {len(images) * len(args.exposures)} flat photos')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--src', required=True, help='folder of well-exposed images (e.g. references)')
    parser.add_argument('--meta-info', help='only the stems this BasicSR meta_info file lists')
    parser.add_argument('--out', required=True, help='folder to write')
    parser.add_argument('--sigma', type=float, default=2.0, help='Gaussian blur, pixels (default: 2)')
    parser.add_argument('--exposures', type=float, nargs='+', default=[0.05, 0.2, 1.0],
                        help='factors in linear light (default: 0.05 0.2 1)')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('make_flat_photos.py', lambda: write_flat_photos(args))


if __name__ == '__main__':
    main()
