"""Pairing low-light inputs with references by file stem, from folders, LMDB files and meta_info lists."""
import os
from os import path as osp

import lmdb

from msiagan.utils.errors import InputError

from .image_io import IMAGE_EXTENSIONS
from .lmdb_envs import shared_env


def images_by_stem(folder):
    """Map stem -> path for the image files directly in ``folder`` (hidden and non-image files skipped)."""
    if not osp.isdir(folder):
        raise InputError(f'{folder}: data folder does not exist')
    by_stem = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if name.startswith('.') or ext.lower() not in IMAGE_EXTENSIONS:
            continue
        if stem in by_stem:
            raise InputError(f'{folder}: two images share the stem {stem!r}: {osp.basename(by_stem[stem])}, {name}')
        by_stem[stem] = osp.join(folder, name)
    if not by_stem:
        raise InputError(f'{folder}: data folder has no images')
    return by_stem


def pair_stems(lq_stems, gt_stems, lq_source, gt_source):
    """Sorted stems common to both sides; a stem on one side only is an error naming it and both sources."""
    for stem in sorted(set(lq_stems) ^ set(gt_stems)):
        present, missing = (lq_source, gt_source) if stem in lq_stems else (gt_source, lq_source)
        raise InputError(f'{stem!r} is in {present} but has no partner in {missing}')
    return sorted(lq_stems)


def paired_paths_from_folders(lq_folder, gt_folder):
    """[{'key', 'lq_path', 'gt_path'}] for the pairs of two folders, matched by stem, sorted by stem."""
    lq, gt = images_by_stem(lq_folder), images_by_stem(gt_folder)
    return [dict(key=stem, lq_path=lq[stem], gt_path=gt[stem]) for stem in pair_stems(lq, gt, lq_folder, gt_folder)]


def paired_paths_from_root(root, meta_info_file=None):
    """The pairs of ``root``/low and ``root``/high (as paired_paths_from_folders), those ``meta_info_file``
    lists if given (as restrict_to_meta_info)."""
    pairs = paired_paths_from_folders(osp.join(root, 'low'), osp.join(root, 'high'))
    return restrict_to_meta_info(pairs, meta_info_file) if meta_info_file else pairs


def read_meta_info(meta_info_file):
    """Stems listed in a BasicSR meta_info file: the first word of each line, extension dropped."""
    try:
        with open(meta_info_file) as f:
            words = [line.split()[0] for line in f if line.strip() and not line.startswith('#')]
    except OSError as error:
        raise InputError(f'{meta_info_file}: cannot read meta_info_file ({error.strerror})') from None
    return [osp.splitext(word)[0] for word in words]


def listed_images(folder, meta_info_file=None):
    """[(stem, path)] of the images in ``folder`` that ``meta_info_file`` lists (in its order), or of all of them
    (sorted by stem); a listed stem that is not there is an InputError naming both."""
    paths = images_by_stem(folder)
    stems = read_meta_info(meta_info_file) if meta_info_file else sorted(paths)
    missing = sorted(set(stems) - set(paths))
    if missing:
        raise InputError(f'--meta-info {meta_info_file}: {missing[0]} is not in {folder}')
    return [(stem, paths[stem]) for stem in stems]


def lmdb_keys(lmdb_path):
    """Stems of an LMDB made by scripts/data_preparation/create_lmdb.py, checked against the keys it really holds."""
    meta_info = osp.join(lmdb_path, 'meta_info.txt')
    if not osp.isfile(meta_info):
        raise InputError(f'{lmdb_path}: not an LMDB with a meta_info.txt')
    listed = read_meta_info(meta_info)
    try:
        env = shared_env(lmdb_path)
    except (OSError, lmdb.Error) as error:
        raise InputError(f'{lmdb_path}: cannot open this LMDB ({error})') from None
    with env.begin() as txn:
        stored = {key.decode('ascii') for key in txn.cursor().iternext(values=False)}
    mismatch = sorted(set(listed) ^ stored)
    if mismatch:
        raise InputError(f'{meta_info} does not match the keys of {lmdb_path}: first difference {mismatch[0]!r} '
                         f'({len(mismatch)} in all)')
    return listed


def paired_keys_from_lmdb(lq_lmdb, gt_lmdb):
    """[{'key', 'lq_path', 'gt_path'}] where both 'paths' are the LMDB key, sorted by key."""
    lq, gt = lmdb_keys(lq_lmdb), lmdb_keys(gt_lmdb)
    return [dict(key=stem, lq_path=stem, gt_path=stem) for stem in pair_stems(lq, gt, lq_lmdb, gt_lmdb)]


def restrict_to_meta_info(pairs, meta_info_file):
    """The pairs whose stem ``meta_info_file`` lists, in its order; a listed stem with no pair is an error."""
    by_key = {pair['key']: pair for pair in pairs}
    wanted = read_meta_info(meta_info_file)
    missing = [stem for stem in wanted if stem not in by_key]
    if missing:
        raise InputError(f'{meta_info_file}: lists {missing[0]!r}, which is not among the data pairs '
                         f'({len(missing)} such)')
    if not wanted:
        raise InputError(f'{meta_info_file}: lists no images')
    return [by_key[stem] for stem in wanted]
