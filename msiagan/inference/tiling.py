"""Running a generator on images, whole or in tiles."""
from functools import partial

import torch

from msiagan.utils.errors import InputError


DEFAULT_TILE_PAD = 32  # pixels of context around a tile, for networks that do not give their receptive_radius


def tile_context(net, tile_pad=None):
    """Pixels of context around each tile: ``tile_pad``, else the net's ``receptive_radius`` (with which tiles give
    the whole image's result), else DEFAULT_TILE_PAD."""
    return tile_pad if tile_pad is not None else getattr(net, 'receptive_radius', DEFAULT_TILE_PAD)


@torch.no_grad()
def enhance_tensor(net, x, tile=0, tile_pad=None, align=8, global_features=None):
    """Run ``net`` on x (N, C, H, W) in [0, 1]; returns (N, C_out, H, W) clamped to [0, 1].

    tile > 0 processes tile x tile pieces, each with at least ``tile_pad`` pixels of context on every side
    where the image has them, so an image larger than memory allows still goes through. Each piece starts
    and, unless the image ends first, ends on a multiple of ``align`` (the generator's total stride), so it
    sees the same sampling grid as the whole image and is padded only where the image is; a generator with
    ``global_features`` gets those of the whole image. tile_pad None: the net's ``receptive_radius`` (tiles then
    give the whole image's result), or DEFAULT_TILE_PAD if it has none (``tile_context``). ``global_features``:
    what the generator gets instead of those of x (e.g. their average over a video's frames), whole or in tiles.
    """
    if tile < 0 or (tile_pad or 0) < 0:
        raise InputError(f'tile {tile}, tile_pad {tile_pad}: take 0 or more pixels')
    if global_features is None and tile and hasattr(net, 'global_features'):
        global_features = net.global_features(x)  # the whole image's
    run = net if global_features is None else partial(net, global_features=global_features)
    if not tile:
        return run(x).clamp_(0, 1)
    tile_pad = tile_context(net, tile_pad)
    height, width = x.shape[-2:]
    out = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            context_top = max(top - tile_pad, 0) // align * align
            context_left = max(left - tile_pad, 0) // align * align
            context_bottom = min(-(-(bottom + tile_pad) // align) * align, height)  # padded only at the image's edge
            context_right = min(-(-(right + tile_pad) // align) * align, width)
            piece = run(x[..., context_top:context_bottom, context_left:context_right])
            if out is None:
                out = x.new_empty(x.shape[0], piece.shape[1], height, width)
            out[..., top:bottom, left:right] = piece[..., top - context_top:bottom - context_top,
                                                     left - context_left:right - context_left]
    return out.clamp_(0, 1)

