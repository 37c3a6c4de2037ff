"""Make paired low-light data from SICE (Cai et al. 2018) as distributed, the way the MSIA-GAN paper used it.

    python scripts/data_preparation/prepare_sice.py --parts SICE/Dataset_Part1 --out datasets/SICE
    python scripts/data_preparation/prepare_sice.py --parts SICE/Dataset_Part1 SICE/Dataset_Part2 --darkest 3 --num-train all

A part is a folder of scenes, <part>/<scene>/<exposure>.JPG (a few exposures of one view, sizes up to
6000x4000), with one reference per scene, <part>/Label/<scene>.JPG. The script
- names each scene <part>-<scene> (the parts number their scenes alike), e.g. Dataset_Part1-12;
- splits the scenes at random under --seed into --num-test test scenes and --num-train training scenes
  (the paper: 300 and 10 of Part1); the split does not depend on the exposure options;
- resizes every image of those scenes to --size (600x400, the paper) with --interp, and measures its
  brightness: the mean of all pixel values, in [0, 1];
- keeps as low-light inputs the --darkest K exposures of a scene, or those darker than --max-brightness;
- writes <out>/{train,test}/low/<scene>_<exposure>.png and, with the same name, the scene's reference to
  <out>/{train,test}/high/. The reference is repeated for each input so that the pairs match by file stem,
  as PairedLowLightDataset pairs them; the repeats are hard links to one file where the disk allows.
Every exposure must have its reference's size (before resizing): a mismatch is an error naming both files.
Nothing is left in <out> if writing fails (a full disk).
"""
import argparse
import os
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from os import path as osp

from tqdm import tqdm

from msiagan.data.image_io import FULL_SCALE, decode_stored, read_bytes, to_three_channels
from msiagan.data.pairing import images_by_stem, pair_stems
from msiagan.data.preparation import check_apart, check_output, clear_output, staged_outputs
from msiagan.data.transforms import INTERPOLATIONS, resize_image
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.writing import write_image


def find_scenes(part, label_folder='Label'):
    """{scene name: (exposure folder, reference path)} of one part; every scene needs its reference."""
    if not osp.isdir(part):
        raise InputError(f'{part}: SICE part folder does not exist')
    folders = {name: osp.join(part, name) for name in os.listdir(part)
               if name != label_folder and not name.startswith('.') and osp.isdir(osp.join(part, name))}
    labels = images_by_stem(osp.join(part, label_folder))
    part_name = osp.basename(osp.normpath(part))
    return {f'{part_name}-{scene}': (folders[scene], labels[scene])
            for scene in pair_stems(folders, labels, part, osp.join(part, label_folder))}


def split_scenes(scenes, num_train, num_test, seed):
    """(train, test) scene names: a seeded random draw, each sorted; num_train None takes all the rest."""
    rest = num_train if num_train is not None else len(scenes) - num_test
    if num_test + rest > len(scenes) or rest < 0:
        raise InputError(f'--num-train {num_train} and --num-test {num_test}: there are only {len(scenes)} scenes')
    drawn = random.Random(seed).sample(sorted(scenes), num_test + rest)
    return sorted(drawn[num_test:]), sorted(drawn[:num_test])


def load_resized(path, size, interp):
    """(image, brightness, stored (H, W)): the image resized to ``size`` [W, H], (H, W, 3) in its own dtype;
    brightness is the mean of its values in [0, 1]."""
    img = to_three_channels(decode_stored(read_bytes(path), path))
    resized = resize_image(img, size, interp)
    return resized, float(resized.mean()) / FULL_SCALE[resized.dtype], img.shape[:2]


def select_exposures(brightness, darkest, max_brightness):
    """Names of the exposures kept as inputs, from {name: brightness}: the darkest k, or all below a level."""
    by_brightness = sorted(brightness, key=lambda name: (brightness[name], name))
    if darkest is not None:
        return sorted(by_brightness[:darkest])
    return sorted(name for name in by_brightness if brightness[name] < max_brightness)


def link_or_copy(source, target):
    """A hard link where the disk allows, else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def prepare_scene(scene, exposure_folder, reference, out_dir, args):
    """Write the pairs of one scene to <out_dir>/{low,high}; return the brightness of each input kept."""
    high, _, reference_size = load_resized(reference, args.size, args.interp)
    loaded = {}
    for name, path in images_by_stem(exposure_folder).items():
        img, brightness, stored_size = load_resized(path, args.size, args.interp)
        if stored_size != reference_size:
            raise InputError(f'{path} ({stored_size[1]}x{stored_size[0]}) and its reference {reference} '
                             f'({reference_size[1]}x{reference_size[0]}) differ in size')
        loaded[name] = img, brightness
    kept = select_exposures({name: brightness for name, (_, brightness) in loaded.items()}, args.darkest,
                            args.max_brightness)
    for name in kept:
        write_image(osp.join(out_dir, 'low', f'{scene}_{name}.png'), loaded[name][0])
        reference_copy = osp.join(out_dir, 'high', f'{scene}_{name}.png')
        if name == kept[0]:
            write_image(reference_copy, high)
        else:
            link_or_copy(osp.join(out_dir, 'high', f'{scene}_{kept[0]}.png'), reference_copy)
    return [loaded[name][1] for name in kept]


def prepare(args):
    scenes = {}
    for part in args.parts:
        check_apart(part, args.out)
        scenes.update(find_scenes(part))
    splits = dict(zip(('train', 'test'), split_scenes(scenes, args.num_train, args.num_test, args.seed)))
    for split in splits:
        check_output(osp.join(args.out, split), args.force)
    out_dirs = {split: osp.join(args.out, split) for split in splits}
    with staged_outputs(out_dirs.values()) as staging:
        for out_dir in out_dirs.values():
            clear_output(out_dir, args.force)
        kept = {}
        for split, names in splits.items():
            kept[split] = prepare_split(split, names, scenes, staging[out_dirs[split]], args)
    for split, names in splits.items():
        brightness = [b for scene in kept[split] for b in scene]
        print(f'{out_dirs[split]}: {len(brightness)} pairs from {len(names)} scenes '
              f'({sum(not scene for scene in kept[split])} with no exposure kept), '
              f'{args.size[0]}x{args.size[1]}, '
              f'mean input brightness {sum(brightness) / max(len(brightness), 1):.3f}')


def prepare_split(split, names, scenes, out_dir, args):
    """Write the pairs of the scenes ``names`` of ``split`` to <out_dir>/{low,high}; return the brightness of the
    inputs kept, a list for each scene."""
    for folder in ('low', 'high'):
        os.makedirs(osp.join(out_dir, folder))
    with ThreadPoolExecutor(args.threads) as pool:
        jobs = [pool.submit(prepare_scene, name, *scenes[name], out_dir, args) for name in names]
        try:
            with tqdm(jobs, desc=f'{split} scenes') as progress:  # closed before an error is printed
                return [job.result() for job in progress]
        except Exception:
            pool.shutdown(cancel_futures=True)  # report the bad file or the full disk now, not after every scene
            raise


def count_or_all(text):
    return None if text == 'all' else int(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--parts', nargs='+', required=True, help='SICE part folders (Dataset_Part1, ...)')
    parser.add_argument('--out', default='datasets/SICE', help='default: %(default)s')
    select = parser.add_mutually_exclusive_group()
    select.add_argument('--darkest', type=int, help='keep the K darkest exposures of each scene (default: 1)')
    select.add_argument('--max-brightness', type=float, help='keep the exposures darker than this, in [0, 1]')
    parser.add_argument('--size', type=int, nargs=2, default=[600, 400], metavar=('W', 'H'),
                        help='output size (default: 600 400, the paper)')
    parser.add_argument('--interp', default='area', choices=sorted(INTERPOLATIONS), help='default: %(default)s')
    parser.add_argument('--num-train', type=count_or_all, default=300,
                        help="training scenes, or 'all' for every scene not in the test split (default: 300)")
    parser.add_argument('--num-test', type=int, default=10, help='test scenes (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='of the scene split (default: %(default)s)')
    parser.add_argument('--threads', type=int, default=4, help='scenes read at once (default: %(default)s)')
    parser.add_argument('--force', action='store_true', help='replace <out>/train and <out>/test if they exist')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    if args.darkest is None and args.max_brightness is None:
        args.darkest = 1
    if args.darkest is not None and args.darkest < 1:
        parser.error('--darkest must be at least 1')
    run_cli('prepare_sice.py', lambda: prepare(args))


if __name__ == '__main__':
    main()
