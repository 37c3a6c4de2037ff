"""Build the demo's paired low-light dataset from the colour photos that scikit-image ships.

Each photo is centre-cropped to 3:2 and resized; its low-light twin is made the way a camera would see the
scene with less light (msiagan.data.low_light: sRGB -> linear, exposure scaled down, Poisson shot noise plus
Gaussian read noise on the photo-electron count, back to 8-bit sRGB). Everything is seeded.

    python scripts/data_preparation/make_demo_data.py --out datasets/demo
writes {train,val}/{low,high}/<name>.png, replacing <out>/train and <out>/val as a whole once both are
complete: if writing fails (a full disk), what was there stays and nothing new is left.
"""
import argparse
import os
from os import path as osp

import cv2
import numpy as np
from msiagan.data.low_light import darken
from msiagan.data.preparation import staged_outputs
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.writing import write_image
from skimage import data as skdata

TRAIN_PHOTOS = ('astronaut', 'rocket', 'motorcycle_left', 'motorcycle_right', 'immunohistochemistry')
VAL_PHOTOS = ('coffee', 'chelsea')


def load_photo(name):
    """RGB uint8 photo from skimage.data (the two motorcycle views come from stereo_motorcycle)."""
    if name.startswith('motorcycle_'):
        left, right, _ = skdata.stereo_motorcycle()
        return left if name == 'motorcycle_left' else right
    return getattr(skdata, name)()


def crop_resize(img, width, height):
    """Centre-crop to the aspect ratio width:height, then resize (area) to width x height."""
    h, w = img.shape[:2]
    crop_w, crop_h = min(w, h * width // height), min(h, w * height // width)
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    return cv2.resize(img[top:top + crop_h, left:left + crop_w], (width, height), interpolation=cv2.INTER_AREA)


def write_pair(out_dir, name, high, low):
    for folder, img in (('high', high), ('low', low)):
        write_image(osp.join(out_dir, folder, f'{name}.png'), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='datasets/demo', help='output folder')
    parser.add_argument('--size', type=int, nargs=2, default=(360, 240), metavar=('W', 'H'), help='image size')
    parser.add_argument('--variants', type=int, default=4, help='low-light versions of each training photo')
    parser.add_argument('--exposure', type=float, nargs=2, default=(0.02, 0.08), metavar=('MIN', 'MAX'),
                        help='range of the kept fraction of light, drawn uniformly per image')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('make_demo_data.py', lambda: make_demo_data(args))


def check_args(args):
    if min(args.size) < 16:
        raise InputError(f'--size {args.size[0]} {args.size[1]}: width and height must be at least 16 pixels')
    if args.variants < 1:
        raise InputError(f'--variants {args.variants}: must be at least 1')
    if not 0 < args.exposure[0] <= args.exposure[1] <= 1:
        raise InputError(f'--exposure {args.exposure[0]} {args.exposure[1]}: need 0 < MIN <= MAX <= 1')


def make_demo_data(args):
    check_args(args)
    rng = np.random.default_rng(args.seed)
    out_dirs = {split: osp.join(args.out, split) for split in ('train', 'val')}
    with staged_outputs(out_dirs.values()) as staging:
        for out_dir in staging.values():
            for folder in ('high', 'low'):
                os.makedirs(osp.join(out_dir, folder))
        for name in TRAIN_PHOTOS:
            high = crop_resize(load_photo(name), *args.size)
            for variant in range(args.variants):
                low = darken(high, rng, rng.uniform(*args.exposure))
                write_pair(staging[out_dirs['train']], f'{name}_{variant}', high, low)
        for name in VAL_PHOTOS:
            high = crop_resize(load_photo(name), *args.size)
            write_pair(staging[out_dirs['val']], name, high, darken(high, rng, np.mean(args.exposure)))
    print(f'demo data: {len(TRAIN_PHOTOS) * args.variants} training and {len(VAL_PHOTOS)} validation pairs '
          f'in {args.out}')


if __name__ == '__main__':
    main()
