"""Carve a fixed, seeded validation split out of LOL-v1's our485, as two meta_info files.

    python scripts/data_preparation/make_lol_split.py --gt datasets/LOL-v1/our485/high --num-val 25 --seed 0

writes msiagan/data/meta_info/lol_v1_{train,val}.txt (one stem per line, sorted). eval15 stays the test set.
"""
import argparse
import os
import random
from os import path as osp

from msiagan.data.pairing import images_by_stem, read_meta_info
from msiagan.data.preparation import staged_outputs
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError

META_INFO_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'msiagan', 'data', 'meta_info')


def split_stems(stems, num_val, seed):
    """(train, val) lists of stems, each sorted; val is a seeded random sample of ``num_val`` stems."""
    if not 0 < num_val < len(stems):
        raise InputError(f'--num-val {num_val}: must be between 1 and {len(stems) - 1} ({len(stems)} pairs)')
    val = set(random.Random(seed).sample(sorted(stems), num_val))
    return sorted(set(stems) - val), sorted(val)


def write_split(args):
    """Write the two files, both or neither; one that exists with another split is replaced only with --force."""
    train, val = split_stems(images_by_stem(args.gt), args.num_val, args.seed)
    splits = {osp.join(args.out, f'lol_v1_{name}.txt'): stems for name, stems in (('train', train), ('val', val))}
    for path, stems in splits.items():
        if osp.isfile(path) and not args.force and read_meta_info(path) != stems:
            raise InputError(f'{path} already exists with another split: pass --force to replace it')
    with staged_outputs(splits) as staging:
        os.makedirs(args.out, exist_ok=True)
        for path, stems in splits.items():
            with open(staging[path], 'w') as f:
                f.write(''.join(f'{stem}\n' for stem in stems))
    for path, stems in splits.items():
        print(f'{path}: {len(stems)} stems')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--gt', default='datasets/LOL-v1/our485/high', help='our485 reference folder')
    parser.add_argument('--num-val', type=int, default=25)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=META_INFO_DIR, help='folder for lol_v1_{train,val}.txt')
    parser.add_argument('--force', action='store_true', help='replace files that hold another split')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('make_lol_split.py', lambda: write_split(args))


if __name__ == '__main__':
    main()
