"""Pack a dataset folder into numbered parts small enough to carry to another machine one at a time (a lent GPU
machine takes at most 64 MiB a call), and unpack them there, checked.

    python scripts/lent_gpu_machine/pack_dataset.py pack datasets/LOL-v1/our485 --out .carry/lol --part-mib 54
    python scripts/lent_gpu_machine/pack_dataset.py unpack .carry/lol --out datasets/LOL-v1/our485

``pack`` writes ``part_00.tar``, ``part_01.tar``, ... : each a whole tar archive of some of the files (links are
followed), each with ``pack.json``: the packing's id, the part's number, how many parts and files the packing
has, and the SHA-256 of each of the part's files. ``unpack`` checks that the parts are all there and of one
packing, extracts them into the output folder and checks every file against its SHA-256; a missing, stray or
damaged part is named in one line, and the output folder appears only when everything is there.
"""
import argparse
import hashlib
import io
import json
import os
import re
import tarfile
from os import path as osp

from msiagan.data.preparation import check_output, staged_outputs
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError

PART_NAME = 'part_{:02d}.tar'
PART_PATTERN = re.compile(r'part_(\d+)\.tar$')
INDEX_NAME = 'pack.json'
TAR_BLOCK = 512
PART_RESERVE = tarfile.RECORDSIZE + 3 * TAR_BLOCK  # the archive's end and its last record, pack.json's header
INDEX_ENTRY = 100  # bytes of pack.json for a file, besides its name


def dataset_files(src):
    """[(relative path, size in bytes)] of the files under ``src`` (links followed), sorted; hidden ones skipped."""
    if not osp.isdir(src):
        raise InputError(f'{src}: not a folder')
    files = []
    for folder, subfolders, names in os.walk(src, followlinks=True):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith('.'))
        for name in names:
            if not name.startswith('.'):
                path = osp.join(folder, name)
                files.append((osp.relpath(path, src), osp.getsize(path)))
    if not files:
        raise InputError(f'{src}: holds no files')
    return sorted(files)


def archived_bytes(name, size):
    """Bytes a file adds to a part: its tar header, its data padded to whole blocks and its pack.json entry."""
    return TAR_BLOCK + -(-size // TAR_BLOCK) * TAR_BLOCK + len(name) + INDEX_ENTRY


def split_into_parts(files, part_bytes):
    """``files`` ([(name, size)]) in order, cut into lists whose tar archives stay under ``part_bytes``."""
    parts, current, used = [], [], PART_RESERVE
    for name, size in files:
        need = archived_bytes(name, size)
        if PART_RESERVE + need > part_bytes:
            raise InputError(f'{name}: {size} bytes, more than a part of --part-mib holds')
        if current and used + need > part_bytes:
            parts.append(current)
            current, used = [], PART_RESERVE
        current.append(name)
        used += need
    return parts + [current]


def add_bytes(archive, name, data):
    member = tarfile.TarInfo(name)
    member.size = len(data)
    archive.addfile(member, io.BytesIO(data))


def pack(src, out, part_mib, force=False):
    """Write the parts of ``src`` into the folder ``out``; returns their number."""
    files = dataset_files(src)
    parts = split_into_parts(files, int(part_mib * 2**20))
    pack_id = hashlib.sha256(json.dumps(files).encode()).hexdigest()[:16]
    check_output(out, force)
    with staged_outputs([out]) as staging:
        os.makedirs(staging[out])
        for number, names in enumerate(parts):
            digests = {}
            with tarfile.open(osp.join(staging[out], PART_NAME.format(number)), 'w') as archive:
                for name in names:
                    with open(osp.join(src, name), 'rb') as f:
                        data = f.read()
                    digests[name] = hashlib.sha256(data).hexdigest()
                    add_bytes(archive, name, data)
                index = {'pack': pack_id, 'part': number, 'parts': len(parts), 'files_in_pack': len(files),
                         'files': digests}
                add_bytes(archive, INDEX_NAME, json.dumps(index, indent=1).encode())
    return len(parts)


def read_index(part_path):
    """The ``pack.json`` of the part at ``part_path``; an InputError if it cannot be read."""
    try:
        with tarfile.open(part_path) as archive:
            return json.load(archive.extractfile(INDEX_NAME))
    except (OSError, tarfile.TarError, KeyError, ValueError) as error:
        raise InputError(f'{part_path}: not a whole part made by pack_dataset.py ({error})') from None


def unpack(parts_dir, out, force=False):
    """Extract the parts in ``parts_dir`` into the folder ``out``, every file checked; returns the file count."""
    if not osp.isdir(parts_dir):
        raise InputError(f'{parts_dir}: not a folder')
    found = {int(m.group(1)): osp.join(parts_dir, m.group(0))
             for m in map(PART_PATTERN.fullmatch, sorted(os.listdir(parts_dir))) if m}
    if not found:
        raise InputError(f'{parts_dir}: holds no part_NN.tar')
    indexes = {number: read_index(path) for number, path in found.items()}
    first = indexes[min(indexes)]
    for number, index in indexes.items():
        if (index['pack'], index['parts'], index['part']) != (first['pack'], first['parts'], number):
            raise InputError(f'{found[number]}: not part {number} of the packing of {found[min(indexes)]} '
                             '(a part left from another packing?)')
    expected = first['parts']
    missing = [PART_NAME.format(number) for number in range(expected) if number not in found]
    if missing:
        raise InputError(f'{osp.join(parts_dir, missing[0])}: missing ({len(missing)} of {expected} parts missing)')
    if len(found) > expected or sum(len(index['files']) for index in indexes.values()) != first['files_in_pack']:
        raise InputError(f'{parts_dir}: holds more parts or files than its packing (a part left from another '
                         'packing?)')
    check_output(out, force)
    count = 0
    with staged_outputs([out]) as staging:
        os.makedirs(staging[out])
        for number in range(expected):
            with tarfile.open(found[number]) as archive:
                archive.extractall(staging[out], members=[m for m in archive if m.name != INDEX_NAME], filter='data')
            for name, digest in indexes[number]['files'].items():
                with open(osp.join(staging[out], name), 'rb') as f:
                    if hashlib.sha256(f.read()).hexdigest() != digest:
                        raise InputError(f'{found[number]}: {name} does not match its checksum (a damaged part)')
                count += 1
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    pack_parser = commands.add_parser('pack', help='a dataset folder into parts')
    pack_parser.add_argument('src', help='the dataset folder, e.g. datasets/LOL-v1/our485')
    pack_parser.add_argument('--out', required=True, help='folder for part_NN.tar')
    pack_parser.add_argument('--part-mib', type=float, default=54, help='largest part, MiB (default: 54)')
    unpack_parser = commands.add_parser('unpack', help='parts back into a dataset folder')
    unpack_parser.add_argument('parts', help='folder holding part_NN.tar')
    unpack_parser.add_argument('--out', required=True, help='the dataset folder to make')
    for sub in (pack_parser, unpack_parser):
        sub.add_argument('--force', action='store_true', help='replace what is at --out')
        sub.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    if args.command == 'pack':
        run_cli('pack_dataset.py', lambda: print(f'{args.out}: {pack(args.src, args.out, args.part_mib, args.force)} '
                                                 'part(s)'))
    else:
        run_cli('pack_dataset.py', lambda: print(f'{args.out}: {unpack(args.parts, args.out, args.force)} files'))


if __name__ == '__main__':
    main()
