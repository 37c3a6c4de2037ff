"""Pack prepared low/high folders into two LMDB files for ``io_backend: {type: lmdb}``.

    python scripts/data_preparation/create_lmdb.py --lq datasets/LOL-v1/our485/low --gt datasets/LOL-v1/our485/high

writes datasets/LOL-v1/our485/low.lmdb and high.lmdb (or --lq-out, --gt-out) with BasicSR's own LMDB
makers, each image under the key <stem>, and BasicSR's meta_info.txt (``<stem>.png (h,w,c) 1`` a line):
- --store original (default): the bytes of each file as they are (LmdbMaker). Decoding them is decoding
  the file: the same pixels, and as fast as from the folders (JPEG stays JPEG).
- --store png: each image re-encoded as lossless PNG at --compress-level (make_lmdb_from_imgs, BasicSR's
  usual LMDB). The same pixels too, but a JPEG becomes a larger PNG, slower to decode.
Only pairs are packed, in stem order. Every pair is decoded and checked first (as PairedLowLightDataset
checks them), so a bad file stops the packing before anything is written; nor is anything left if writing
fails (a full disk). An existing output is replaced only with --force.
"""
import argparse
from os import path as osp

import lmdb
import msiagan  # noqa: F401  (first: makes basicsr importable)
from basicsr.utils.lmdb_util import LmdbMaker, make_lmdb_from_imgs
from tqdm import tqdm

from msiagan.data import PairedLowLightDataset
from msiagan.data.image_io import decode_stored, read_bytes
from msiagan.data.preparation import check_output, clear_output, staged_outputs
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError

MAX_BYTES_PER_PIXEL = 8  # 4 channels of 16 bits: what any image we read takes, encoded, at most
PER_IMAGE_SLACK = 64 * 1024  # file headers and LMDB pages, per image (bytes)


def checked_pairs(lq_dir, gt_dir):
    """The pairs of two folders with the (H, W) of each, all decoded and checked; keys usable by LMDB."""
    dataset = PairedLowLightDataset({'phase': 'val', 'dataroot_lq': lq_dir, 'dataroot_gt': gt_dir,
                                     'io_backend': {'type': 'disk'}, 'check_images': False})
    for pair in dataset.pairs:
        if not pair['key'].isascii() or len(pair['key'].split()) != 1:
            raise InputError(f"{pair['lq_path']}: an LMDB key must be ASCII without spaces: rename the pair")
    return dataset.pairs, dataset.check_all_pairs()


def store_files(paths, keys, lmdb_path, map_size):
    """Put the bytes of each file, as they are, under its key, with BasicSR's LmdbMaker."""
    maker = LmdbMaker(lmdb_path, map_size=map_size)
    with tqdm(paths, desc=f'Write {lmdb_path}', unit='image') as progress:  # closed before an error is printed
        for path, key in zip(progress, keys):
            content = read_bytes(path)
            img = decode_stored(content, path)
            maker.put(content, key, img.shape if img.ndim == 3 else (*img.shape, 1))
    maker.close()


def pack(args):
    outputs = {'lq': args.lq_out or osp.normpath(args.lq) + '.lmdb',
               'gt': args.gt_out or osp.normpath(args.gt) + '.lmdb'}
    for role, path in outputs.items():
        if not path.endswith('.lmdb'):
            raise InputError(f'--{role}-out {path}: an LMDB path must end with .lmdb')
    if osp.abspath(outputs['lq']) == osp.abspath(outputs['gt']):
        raise InputError(f"--lq-out and --gt-out are both {outputs['lq']}")
    for path in outputs.values():
        check_output(path, args.force)
    pairs, sizes = checked_pairs(args.lq, args.gt)
    map_size = sum(h * w * MAX_BYTES_PER_PIXEL + PER_IMAGE_SLACK for h, w in sizes) + 2**26
    keys = [pair['key'] for pair in pairs]
    with staged_outputs(outputs.values(), write_errors=(OSError, lmdb.Error)) as staging:
        for path in outputs.values():
            clear_output(path, args.force)
        for role, folder in (('lq', args.lq), ('gt', args.gt)):
            paths = [pair[f'{role}_path'] for pair in pairs]
            if args.store == 'original':
                store_files(paths, keys, staging[outputs[role]], map_size)
            else:
                make_lmdb_from_imgs(folder, staging[outputs[role]], [osp.basename(path) for path in paths], keys,
                                    compress_level=args.compress_level, map_size=map_size)
    print(f"{len(pairs)} pairs packed into {outputs['lq']} and {outputs['gt']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--lq', required=True, help='folder of low-light inputs')
    parser.add_argument('--gt', required=True, help='folder of references (pairs match by file stem)')
    parser.add_argument('--lq-out', help='LMDB of the inputs (default: <lq>.lmdb)')
    parser.add_argument('--gt-out', help='LMDB of the references (default: <gt>.lmdb)')
    parser.add_argument('--store', choices=('original', 'png'), default='original',
                        help='the file bytes as they are, or re-encoded as PNG (default: %(default)s)')
    parser.add_argument('--compress-level', type=int, default=1, choices=range(10), metavar='0..9',
                        help='PNG compression with --store png (default: 1, BasicSR\'s)')
    parser.add_argument('--force', action='store_true', help='replace existing outputs')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('create_lmdb.py', lambda: pack(args))


if __name__ == '__main__':
    main()
