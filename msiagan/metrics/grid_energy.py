"""Grid energy: how strong a pattern repeating every 8 pixels (or 2 or 4) is in an image, in grey levels.

Y = luminance (OpenCV BGR2GRAY, float64); r = Y - GaussianBlur(Y, 5x5, sigma 1.0), the fine detail; r cropped to
multiples of 8 and averaged over all 8x8 blocks, phase by phase (an 8x8 array of means); grid energy = the
standard deviation of those 64 means. Detail that does not repeat with the block averages out; a pattern made
by stride-2 up or down steps (periods 2, 4, 8) does not.
"""
import cv2
import numpy as np

BLOCK = 8


def grid_energy(img):
    """Grid energy (grey levels) of a uint8 (H, W, 3) BGR image of at least 8x8 pixels."""
    luma = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float64)
    detail = luma - cv2.GaussianBlur(luma, (5, 5), 1.0)
    height, width = (size - size % BLOCK for size in detail.shape)
    blocks = detail[:height, :width].reshape(height // BLOCK, BLOCK, width // BLOCK, BLOCK)
    return float(blocks.mean(axis=(0, 2)).std())
