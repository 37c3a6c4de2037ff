"""Labelled picture grids: input | outputs | reference."""
import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE = 255


def label_strip(text, width, height=28):
    """A white (height, width, 3) uint8 strip with ``text`` in black, shrunk to fit."""
    strip = np.full((height, width, 3), _WHITE, np.uint8)
    scale = min(0.6, 0.6 * (width - 8) / max(cv2.getTextSize(text, _FONT, 0.6, 1)[0][0], 1))
    (text_w, text_h), _ = cv2.getTextSize(text, _FONT, scale, 1)
    cv2.putText(strip, text, ((width - text_w) // 2, (height + text_h) // 2), _FONT, scale, (0, 0, 0), 1,
                cv2.LINE_AA)
    return strip


def _join(images, axis, gap):
    """Concatenate along ``axis`` with white gaps of ``gap`` pixels between the images."""
    shape = list(images[0].shape)
    shape[axis] = gap
    spacer = np.full(shape, _WHITE, np.uint8)
    parts = [images[0]]
    for image in images[1:]:
        parts += [spacer, image]
    return np.concatenate(parts, axis=axis)


def labelled_grid(rows, labels, gap=4):
    """Tile uint8 (H, W, 3) images, one list per row, all the same size, under a label for each column."""
    width = rows[0][0].shape[1]
    header = _join([label_strip(label, width) for label in labels], 1, gap)
    return _join([header] + [_join(row, 1, gap) for row in rows], 0, gap)
