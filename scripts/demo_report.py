"""Enhance the demo's validation images with the trained generator and show the result.

    python scripts/demo_report.py --experiment experiments/demo --data datasets/demo/val --out demo_output

writes <out>/enhanced/<name>.png and <out>/side_by_side.png (input | enhanced | reference, one row per
image) and prints PSNR and SSIM of the input and of the output against the reference.
"""
import argparse
import os
from os import path as osp

import cv2
import numpy as np

import msiagan  # noqa: F401  (first: makes basicsr importable)
from basicsr.metrics import calculate_psnr, calculate_ssim
from msiagan.data.pairing import paired_paths_from_folders
from msiagan.inference import enhance_array, load_generator, load_network_options
from msiagan.visualize import labelled_grid


def to_uint8(img):
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--experiment', default='experiments/demo', help='BasicSR experiment folder')
    parser.add_argument('--data', default='datasets/demo/val', help='folder with low/ and high/')
    parser.add_argument('--out', default='demo_output')
    args = parser.parse_args()

    options_file = osp.join(args.experiment, 'demo.yml')
    net = load_generator(load_network_options(options_file), osp.join(args.experiment, 'models', 'net_g_latest.pth'))
    os.makedirs(osp.join(args.out, 'enhanced'), exist_ok=True)
    pairs = paired_paths_from_folders(osp.join(args.data, 'low'), osp.join(args.data, 'high'))
    rows, scores = [], []
    for pair in pairs:
        low, high = (cv2.imread(pair[key], cv2.IMREAD_COLOR) for key in ('lq_path', 'gt_path'))
        low_rgb = cv2.cvtColor(low, cv2.COLOR_BGR2RGB).astype(np.float32) / 255
        enhanced = cv2.cvtColor(to_uint8(enhance_array(net, low_rgb)), cv2.COLOR_RGB2BGR)
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
    main()
