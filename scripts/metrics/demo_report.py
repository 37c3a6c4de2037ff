"""Enhance the demo's validation images with the trained generator and show the result.

    python scripts/metrics/demo_report.py --experiment experiments/demo --data datasets/demo/val --out demo_output

writes <out>/enhanced/<name>.png and <out>/side_by_side.png (input | enhanced | reference, one row per
image) and prints PSNR and SSIM of the input and of the output against the reference. The experiment
folder defaults to the demo's under msiagan's project root (where msiagan/train.py put it).
"""
import argparse
import os
from os import path as osp

import msiagan  # noqa: F401  (first: makes basicsr importable)
import cv2
import numpy as np
from basicsr.metrics import calculate_psnr, calculate_ssim
from msiagan.data.image_io import read_bgr_uint8
from msiagan.data.pairing import paired_paths_from_root
from msiagan.inference import Enhancer
from msiagan.inference.visualize import labelled_grid
from msiagan.utils.entry import project_root, run_cli
from msiagan.utils.errors import InputError


def report():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--experiment', default=osp.join(project_root(), 'experiments', 'demo'),
                        help='BasicSR experiment folder')
    parser.add_argument('--data', default='datasets/demo/val', help='folder with low/ and high/')
    parser.add_argument('--out', default='demo_output')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args()

    weights = osp.join(args.experiment, 'models', 'net_g_latest.pth')
    if not osp.isfile(weights):
        raise InputError(f'{weights}: no trained generator there; train first (make demo) or give --experiment')
    enhancer = Enhancer(weights)
    os.makedirs(osp.join(args.out, 'enhanced'), exist_ok=True)
    pairs = paired_paths_from_root(args.data)
    rows, scores = [], []
    for pair in pairs:
        low, high = read_bgr_uint8(pair['lq_path']), read_bgr_uint8(pair['gt_path'])
        enhanced = enhancer.enhance_bgr_uint8(low)
        cv2.imwrite(osp.join(args.out, 'enhanced', f"{pair['key']}.png"), enhanced)
        rows.append([low, enhanced, high])
        scores.append([metric(img, high, crop_border=0) for img in (low, enhanced)
                       for metric in (calculate_psnr, calculate_ssim)])
    side_by_side = osp.join(args.out, 'side_by_side.png')
    cv2.imwrite(side_by_side, labelled_grid(rows, ['input', 'enhanced', 'reference']))

    print(f"{'image':<12} {'input PSNR':>10} {'SSIM':>6} {'output PSNR':>12} {'SSIM':>6}")
    for pair, (psnr_in, ssim_in, psnr_out, ssim_out) in zip(pairs, scores):
        print(f"{pair['key']:<12} {psnr_in:>10.2f} {ssim_in:>6.3f} {psnr_out:>12.2f} {ssim_out:>6.3f}")
    mean = np.mean(scores, axis=0)
    print(f"{'mean':<12} {mean[0]:>10.2f} {mean[1]:>6.3f} {mean[2]:>12.2f} {mean[3]:>6.3f}")
    print(f"enhanced images: {osp.join(args.out, 'enhanced')}\nside by side:    {side_by_side}")


if __name__ == '__main__':
    run_cli('demo_report.py', report)
