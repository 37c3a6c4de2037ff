"""Check LOL-v1 as distributed and lay it out for our options files.

    python scripts/data_preparation/prepare_lol.py --src /path/to/LOL-v1 --out datasets/LOL-v1 --link

reads <src>/our485/{low,high} and <src>/eval15/{low,high}, checks every pair (partner by file stem, both
images readable, 3 channels, same size), prints what it found, and writes <out>/<split>/{low,high}/ with
the original file names: copies, or absolute symbolic links with --link. Nothing is written unless every
pair passes, and nothing is left if writing fails (a full disk). An existing <out>/<split> is replaced only
with --force.
"""
import argparse
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from os import path as osp

from tqdm import tqdm

from msiagan.data.image_io import decode_stored, read_bytes
from msiagan.data.pairing import paired_paths_from_root
from msiagan.data.preparation import check_apart, check_output, clear_output, place_file, staged_outputs
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError

SPLITS = ('our485', 'eval15')


def inspect_pair(pair):
    """'<width>x<height> <bits>-bit' of a pair, checked: both readable, 3 channels, one size."""
    shapes = {}
    for role in ('lq', 'gt'):
        path = pair[f'{role}_path']
        img = decode_stored(read_bytes(path), path)
        if img.ndim != 3 or img.shape[2] != 3:
            raise InputError(f'{path}: {1 if img.ndim == 2 else img.shape[2]} channels, LOL-v1 images have 3')
        shapes[role] = (img.shape, img.dtype.itemsize * 8)
    if shapes['lq'] != shapes['gt']:
        raise InputError(f"{pair['lq_path']} and {pair['gt_path']} differ in size or bit depth")
    (height, width, _), bits = shapes['lq']
    return f'{width}x{height} {bits}-bit'


def check_split(split_dir):
    """The pairs of <split_dir>/{low,high}, all checked; prints a summary line."""
    pairs = paired_paths_from_root(split_dir)
    with ThreadPoolExecutor() as pool:
        formats = Counter(tqdm(pool.map(inspect_pair, pairs), total=len(pairs), desc=f'check {split_dir}'))
    extensions = {role: sorted({osp.splitext(pair[f'{role}_path'])[1] for pair in pairs}) for role in ('lq', 'gt')}
    print(f"{split_dir}: {len(pairs)} pairs; {', '.join(f'{n} x {f}' for f, n in sorted(formats.items()))}; "
          f"inputs {' '.join(extensions['lq'])}, references {' '.join(extensions['gt'])}")
    return pairs


def write_split(pairs, out_dir, link):
    """Write the pairs to <out_dir>/{low,high}/ under their original file names."""
    for role, folder in (('lq', 'low'), ('gt', 'high')):
        os.makedirs(osp.join(out_dir, folder))
        for pair in pairs:
            source = pair[f'{role}_path']
            place_file(source, osp.join(out_dir, folder, osp.basename(source)), link)


def prepare(args):
    check_apart(args.src, args.out)
    for split in args.splits:
        check_output(osp.join(args.out, split), args.force)
    checked = {split: check_split(osp.join(args.src, split)) for split in args.splits}
    out_dirs = {split: osp.join(args.out, split) for split in checked}
    with staged_outputs(out_dirs.values()) as staging:
        for out_dir in out_dirs.values():
            clear_output(out_dir, args.force)
        for split, pairs in checked.items():
            write_split(pairs, staging[out_dirs[split]], args.link)
    for split, pairs in checked.items():
        print(f"{out_dirs[split]}: {len(pairs)} pairs {'linked' if args.link else 'copied'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--src', required=True, help='LOL-v1 as distributed: holds our485/ and eval15/')
    parser.add_argument('--out', default='datasets/LOL-v1', help='where the options files look (default: %(default)s)')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS), help='default: %(default)s')
    parser.add_argument('--link', action='store_true', help='symbolic links instead of copies')
    parser.add_argument('--force', action='store_true', help='replace <out>/<split> if it exists')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('prepare_lol.py', lambda: prepare(args))


if __name__ == '__main__':
    main()
