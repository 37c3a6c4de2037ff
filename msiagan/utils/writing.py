"""Files written whole or not at all, and a write that fails named in one line with its cause in plain words.

A full disk shows in different ways: Python raises ``OSError(ENOSPC)``, but torch's file writer reports
``unexpected pos ...`` and LMDB a short write as ``Input/output error``. Writing the bytes ourselves, from
memory, keeps the ``OSError``; ``cause`` names a full disk behind a library's vaguer message.
"""
import errno
import io
import os
import shutil
from os import path as osp

import cv2
import torch

from msiagan.utils.errors import OutputError

NEARLY_FULL_BYTES = 1024 * 1024  # a disk with less free space than this after a failed write is full
TORCH_SAVE = torch.save  # the real one, whatever msiagan.basicsr_patches.torch_save makes it for a while


def free_bytes(path):
    """Free space (bytes) of the disk holding ``path``, or of its nearest existing parent folder; None if unknown."""
    folder = osp.abspath(path)
    while not osp.exists(folder) and osp.dirname(folder) != folder:
        folder = osp.dirname(folder)
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def cause(error, path):
    """Why writing ``path`` failed, in plain words: e.g. 'no space left on device' for an OSError(ENOSPC), or
    for another error (torch's, LMDB's) when the disk of ``path`` is full; else the error's own message."""
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno).lower()
    free = free_bytes(path)
    if free is not None and free < NEARLY_FULL_BYTES:
        return os.strerror(errno.ENOSPC).lower()
    lines = str(error).strip().splitlines()
    return lines[-1] if lines else type(error).__name__


def write_failure(path, error):
    """The OutputError for ``error``, raised while writing ``path``: '<path>: cannot write (<cause>)'."""
    return OutputError(f'{path}: cannot write ({cause(error, path)})')


def write_atomically(path, data):
    """Write ``data`` (bytes-like) to ``path`` through ``path + '.tmp'``: written, flushed to disk, then renamed over
    ``path``, so ``path`` is always either the previous file or the complete new one. A failed write removes
    the temporary file and raises its OSError; a killed one leaves it (it never has the final name)."""
    tmp_path = f'{path}.tmp'
    try:
        with open(tmp_path, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if osp.lexists(tmp_path):
            os.remove(tmp_path)
        raise


def encode_image(path, img, params=()):
    """The bytes of an image array (as cv2.imwrite takes it) encoded in the format of the extension of ``path``;
    an OutputError naming ``path`` if it cannot be encoded."""
    try:
        encoded, data = cv2.imencode(osp.splitext(path)[1], img, list(params))
    except cv2.error as error:
        raise OutputError(f'{path}: cannot encode this image ({str(error).strip().splitlines()[-1]})') from None
    if not encoded:
        raise OutputError(f'{path}: cannot encode this image')
    return data


def write_image(path, img, params=()):
    """Write an image array to ``path`` (inside an output staged as a whole, msiagan.data.preparation); a write
    that fails raises its OSError. (cv2.imwrite only returns False, and leaves part of a TIFF.)"""
    with open(path, 'wb') as f:
        f.write(encode_image(path, img, params))


def write_image_atomically(path, img, params=()):
    """Write an image array to ``path`` whole or not at all, or raise an OutputError naming it and the cause."""
    try:
        write_atomically(path, encode_image(path, img, params))
    except OSError as error:
        raise write_failure(path, error) from None


def atomic_save(obj, path):
    """``torch.save(obj, path)`` written whole or not at all (``write_atomically``): ``path`` is always either the
    previous file or the complete new one. ``obj`` is serialized in memory first, so that a write that fails raises
    its OSError (e.g. ENOSPC), not torch's 'unexpected pos'."""
    buffer = io.BytesIO()
    TORCH_SAVE(obj, buffer)
    write_atomically(path, buffer.getbuffer())
