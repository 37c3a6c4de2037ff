"""Fast inference for MSIAGenerator: its strided convs as plain matrix products, linear stages folded.

``optimize_for_inference(net)`` returns a module that maps x (N, C, H, W) to what ``net(x)`` gives (within
float32 rounding), faster. How:

- Quadtree pixel order. Feature maps are kept as matrices (pixels, channels) whose rows run over the
  images, then the image's 8x8 blocks in raster order, then inside each block over its 2x2 quadrants
  (top-left, top-right, bottom-left, bottom-right), recursively down to pixels. A 2x2 stride-2 conv then
  reads the same memory as a (pixels / 4, 4 * channels) matrix and a 2x2 stride-2 transposed conv writes
  one: every conv before the head is one matrix product with no im2col. A conv of concatenated maps is a
  sum of products accumulated in place, or one product of the concatenation where that moves less memory.
- Folding. With act 'none' (the paper's generator) everything before the head is linear, so linear steps
  are merged into the steps that read them where that saves work (see FOLDS): the three 3x3 stems into
  the stride-2 convs after them, AE1/AE2's full-resolution decoder outputs (a transposed conv followed
  by a stride-2 conv) and AE3's first encoder conv into AE3's second, and AE1/AE2's first encoder
  outputs, where AE3 reads them, by the input patches. 16.3 instead of 25.7 GMAC at 600x400.
- The 3x3 head, the bottlenecks and the coarse blocks run through oneDNN in channels-last order;
  intermediate matrices are reused from call to call (see _BufferPool).
- The generator's ``global_features`` (its global context, global branch and exposure condition) run as they are,
  on the whole image, and scale and shift the matrices in place.
- With resample 'blurred_ae3_up', each of AE3's up steps writes its matrix, which is turned to raster order,
  blurred, activated and (but for the last, which the head reads in raster order anyway) turned back.

Any other module is returned unchanged.
"""
import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from msiagan.archs import MSIAGenerator
from msiagan.archs.arch_util import pad_to_multiple
from msiagan.archs.global_branch import whole_image_modulations
from msiagan.archs.msia_generator_arch import blur
from msiagan.utils.errors import InputError

LEVELS = 3  # MSIAGenerator halves H and W three times
INPUT = 'x'  # the input patches (see input_patches)
FEATURES = 'd33'  # what the head reads: AE3's last decoder output
COARSEST = 'e33'  # AE3's 1/8-scale encoder output, which global features modulate as 'coarse'
AE3_UPS = {'d31': 2, 'd32': 1, 'd33': 0}  # AE3's up steps and the level (scale 2**-level) each writes


def optimize_for_inference(net):
    """A module computing ``net(x)`` faster, on net's device and dtype; ``net`` itself if it is not an MSIAGenerator,
    or has resample 'blurred' (its blurs before the down steps would undo the quadtree order below at every step).

    The MSIAGenerator version is inference only (no gradients) and keeps its own copy of the weights.
    """
    if type(net) is not MSIAGenerator or net.resample == 'blurred':
        return net
    return FastMSIAGenerator(net)


def quadtree_to_raster(m, n, h, w, out, level=0):
    """m (N * H * W, C), the pixels of a map at ``level`` (H and W: 2**-level of the input's) in quadtree order ->
    out (N, H, W, C), raster order."""
    out.view(_blocks_shape(out.shape[-1], n, h, w, level)).copy_(_raster_view_of_quadtree(m, n, h, w, level))
    return out


def raster_to_quadtree(raster, out, level=0):
    """raster (N, H, W, C), a map at ``level`` -> out (N * H * W, C), its pixels in quadtree order (the inverse of
    ``quadtree_to_raster``)."""
    n, h, w, _ = raster.shape
    _raster_view_of_quadtree(out, n, h, w, level).copy_(raster.reshape(_blocks_shape(raster.shape[-1], n, h, w, level)))
    return out


def _blocks_shape(c, n, h, w, level):
    """(N, blocks down, 2, ..., blocks across, 2, ..., C): a raster map at ``level`` split by its blocks' quadrants."""
    nested = LEVELS - level
    return (n, h >> nested, *[2] * nested, w >> nested, *[2] * nested, c)


def _raster_view_of_quadtree(m, n, h, w, level):
    """A view of the quadtree-ordered matrix m (N * H * W, C) with ``_blocks_shape`` (and strides in raster order)."""
    nested = LEVELS - level
    quadtree = m.view(n, h >> nested, w >> nested, *[2] * (2 * nested), m.shape[-1])
    return quadtree.permute(0, 1, *range(3, 3 + 2 * nested, 2), 2, *range(4, 4 + 2 * nested, 2), 3 + 2 * nested)


def input_patches(x, out):
    """x (N, C, H, W), H and W multiples of 8 -> out (N * H * W, C * 9): each pixel's 3x3 neighbourhood at
    dilation 2 (zero outside the image), as the stems read it, with pixels in quadtree order."""
    n, c, h, w = x.shape
    padded = F.pad(x, (2, 2, 2, 2))
    s_n, s_c, s_y, s_x = padded.stride()
    blocks = [s_y << LEVELS, s_x << LEVELS]  # strides of the 8x8 blocks' rows and columns
    quadrants = [s for level in reversed(range(LEVELS)) for s in (s_y << level, s_x << level)]
    patches = padded.as_strided([n, h >> LEVELS, w >> LEVELS, *[2] * (2 * LEVELS), c, 3, 3],
                                [s_n, *blocks, *quadrants, s_c, 2 * s_y, 2 * s_x])
    return out.view(patches.shape).copy_(patches)


@dataclass
class _Affine:
    """One step before the head: out = act(sum over terms of env[name].view(-1, K) @ weight + bias).

    ``terms`` maps (input name, K) to a (K, M) weight; ``channels`` is the channels of the output, whose
    matrix (rows, M) is read as (rows * M / channels, channels): M = 4 * channels for a transposed conv.
    ``rows`` is the matrix's rows per input pixel: 4**-level of the pixels the product runs on.
    """
    channels: int
    rows: float
    bias: torch.Tensor
    act: nn.Module
    terms: dict = field(default_factory=dict)

    def add(self, name, weight):
        key = (name, weight.shape[0])
        self.terms[key] = self.terms[key] + weight if key in self.terms else weight

    def reads(self, name):
        return any(source == name for source, _ in self.terms)


def _stem(seq):
    """3x3 conv, dilation 2 (+ act) on the input patches."""
    conv, act = seq
    step = _Affine(conv.out_channels, 1, conv.bias.double(), act)
    step.add(INPUT, conv.weight.double().flatten(1).t())  # rows (c_in, i, j), as F.unfold orders them
    return step


def _down(seq, sources, level):
    """2x2 stride-2 conv (+ act) of the concatenated ``sources``, to ``level``: each source reads as
    (pixels / 4, 4 * channels)."""
    conv, act = seq
    step = _Affine(conv.out_channels, 4.0**-level, conv.bias.double(), act)
    for source, weight in zip(sources, conv.weight.double().chunk(len(sources), dim=1)):
        step.add(source, weight.permute(2, 3, 1, 0).flatten(0, 2))  # rows (quadrant row, column, c_in)
    return step


def _up(seq, sources, level):
    """2x2 stride-2 transposed conv (+ act) of the concatenated ``sources``, from ``level``: writes
    (pixels, 4 * channels)."""
    conv, act = seq
    step = _Affine(conv.out_channels, 4.0**-level, conv.bias.double().repeat(4), act)
    for source, weight in zip(sources, conv.weight.double().chunk(len(sources), dim=0)):
        step.add(source, weight.permute(0, 2, 3, 1).flatten(1))  # columns (quadrant row, column, c_out)
    return step


def _affine_steps(net):
    """MSIAGenerator's convs before the head, in the order its forward runs them; bottlenecks and coarse
    blocks (spatial convs) as None."""
    steps = {}
    for k, ae in (('1', net.ae1), ('2', net.ae2)):
        steps[f'e{k}0'] = _stem(ae.stem)
        for i, down in enumerate(ae.down):
            steps[f'e{k}{i + 1}'] = _down(down, [f'e{k}{i}'], i + 1)
        steps[f'b{k}'] = None
        feat = f'b{k}'
        for i, up in enumerate(ae.up):
            steps[f'd{k}{i + 1}'] = _up(up, [feat, f'e{k}{3 - i}'], 3 - i)
            feat = f'd{k}{i + 1}'
    steps['e30'] = _stem(net.stem)
    for i, down in enumerate(net.down):
        steps[f'e3{i + 1}'] = _down(down, [f'e3{i}', f'd1{3 - i}', f'd2{3 - i}'], i + 1)
    feat = 'e33'
    if len(net.coarse):
        steps['c3'] = None
        feat = 'c3'
    for i, up in enumerate(net.up):
        steps[f'd3{i + 1}'] = _up(up, [feat, f'e1{3 - i}', f'e2{3 - i}'], 3 - i)
        feat = f'd3{i + 1}'
    return steps


def _substitute(steps, name, readers=None):
    """Replace ``name`` by its own terms in ``readers`` (default: every step); drop it when nothing reads it.

    Valid because step ``name`` is affine (no activation): a reader taking r of its matrix rows at a time
    takes r rows of each of its inputs, through a block-diagonal weight.
    """
    node = steps[name]
    assert isinstance(node.act, nn.Identity), f'{name} is not linear'
    width = node.bias.numel()
    for reader_name in readers or [key for key, step in steps.items() if step is not None and step.reads(name)]:
        reader = steps[reader_name]
        for (source, k), weight in list(reader.terms.items()):
            if source != name:
                continue
            del reader.terms[(source, k)]
            repeat = k // width
            for (inner, _), inner_weight in node.terms.items():
                reader.add(inner, torch.block_diag(*[inner_weight] * repeat) @ weight)
            reader.bias = reader.bias + node.bias.repeat(repeat) @ weight
    if not any(step is not None and step.reads(name) for step in steps.values()):
        del steps[name]


# Linear steps to fold, in this order, with the steps to fold them into (None: all their readers). Each fold
# is kept only if it lowers the multiply-adds (which depends on num_feat).
FOLDS = (
    (('e10', 'e20', 'e30'), None),  # the 3x3 stems into the stride-2 convs after them
    (('d13', 'd23'), None),  # AE1/AE2's full-resolution decoder outputs into AE3's first stride-2 conv
    (('e11', 'e21'), ['e31']),  # AE1/AE2's first stride-2 convs, where AE3's encoder reads them, and where
    (('e11', 'e21'), ['d33']),  # AE3's last transposed conv does, replaced by the input patches they read
    (('e31',), None),  # AE3's first stride-2 conv into its second
)


def _fold_linear(steps):
    """``steps`` with the linear steps folded as FOLDS says (all the steps must be linear)."""
    for names, readers in FOLDS:
        folded = copy.deepcopy(steps)
        for name in names:
            _substitute(folded, name, readers)
        if _multiply_adds(folded) < _multiply_adds(steps):
            steps = folded
    return steps


def _multiply_adds(steps):
    """Multiply-adds of the steps' matrix products per pixel of the input."""
    return sum(step.rows * sum(k for _, k in step.terms) * step.bias.numel() for step in steps.values() if step)


class _BufferPool:
    """Intermediate matrices of one forward, kept for the next steps and the next call of the same shape.

    A fresh large tensor on the CPU costs a page fault per 4 KiB when first written, about a third of the
    time of the matrix products here; reuse avoids that. Holds the peak working set of the last call.
    """

    def __init__(self):
        self.key = None
        self.free = {}

    def start(self, key):
        """Begin a forward; forget the kept buffers if ``key`` (shape, dtype, device, mode) has changed."""
        if key != self.key:
            self.key, self.free = key, {}

    def take(self, *shape, like):
        spare = self.free.get(math.prod(shape))
        return spare.pop().view(shape) if spare else like.new_empty(shape)

    def give(self, t):
        self.free.setdefault(t.numel(), []).append(t)


class _MatmulStep(nn.Module):
    """An ``_Affine`` step; forward(env, pool) reads its sources from env and writes a buffer of the pool.

    With several sources it either adds one product per source into the output or, where that moves
    less memory (outputs wider than the sources, as in transposed convs), concatenates the sources first.
    """

    def __init__(self, affine, dtype):
        super().__init__()
        self.sources = [source for source, _ in affine.terms]
        self.widths = [k for _, k in affine.terms]
        weights = list(affine.terms.values())
        self.concatenate = (len(weights) - 1) * affine.bias.numel() > sum(self.widths)
        if self.concatenate:
            weights = [torch.cat(weights)]
        self.weights = [f'weight{i}' for i in range(len(weights))]
        for name, weight in zip(self.weights, weights):
            self.register_buffer(name, weight.to(dtype).contiguous())
        self.register_buffer('bias', affine.bias.to(dtype))
        self.channels = affine.channels
        self.act = _in_place(affine.act)

    def forward(self, env, pool):
        inputs = [env[source].view(-1, k) for source, k in zip(self.sources, self.widths)]
        rows = inputs[0].shape[0]
        if self.concatenate:
            inputs = [torch.cat(inputs, 1, out=pool.take(rows, sum(self.widths), like=inputs[0]))]
        out = pool.take(rows, self.bias.numel(), like=inputs[0])
        for i, (matrix, name) in enumerate(zip(inputs, self.weights)):
            if i == 0:
                torch.addmm(self.bias, matrix, getattr(self, name), out=out)
            else:
                out.addmm_(matrix, getattr(self, name))
        if self.concatenate:
            pool.give(inputs[0])
        result = self.act(out)
        if result is not out:  # an activation with no in-place form
            out.copy_(result)
        return out.view(-1, self.channels)


class _SpatialStep(nn.Module):
    """A conv module (a bottleneck, the coarse blocks) on the 1/8-scale map, whose quadtree order is raster order."""

    def __init__(self, source, module):
        super().__init__()
        self.sources = [source]
        self.module = _channels_last(module)

    def forward(self, env, pool):
        n, h, w = env['shape']
        feat = env[self.sources[0]]
        out = self.module(feat.view(n, h >> LEVELS, w >> LEVELS, -1).permute(0, 3, 1, 2))
        return pool.take(feat.shape[0], out.shape[1], like=feat).copy_(out.permute(0, 2, 3, 1).flatten(0, 2))


class FastMSIAGenerator(nn.Module):
    """MSIAGenerator for inference, built by ``optimize_for_inference`` (see the module docstring).

    forward: x (N, num_in_ch, H, W), any H and W, global_features and exposure -> (N, num_out_ch, H, W), as the
    generator's; global_features(x, exposure) as the generator's.
    Keeps buffers between calls (see ``_BufferPool``), so one instance must not run in two threads at once.
    """

    def __init__(self, net):
        super().__init__()
        dtype = net.conv_last.weight.dtype
        with torch.no_grad():
            affine = _affine_steps(net)
            if all(step is None or isinstance(step.act, nn.Identity) for step in affine.values()):
                affine = _fold_linear(affine)
            # resample 'blurred_ae3_up': AE3's up steps blur, then activate (see _blur_up)
            self.blurred_up_acts = nn.ModuleDict()
            if net.resample == 'blurred_ae3_up':
                for name in AE3_UPS:
                    self.blurred_up_acts[name] = _in_place(affine[name].act)
                    affine[name].act = nn.Identity()
            spatial = {'b1': ('e13', net.ae1.bottleneck), 'b2': ('e23', net.ae2.bottleneck), 'c3': ('e33', net.coarse)}
            self.steps = nn.ModuleDict({name: _SpatialStep(*spatial[name]) if step is None else _MatmulStep(step, dtype)
                                        for name, step in affine.items()})
            head_conv, head_act = net.head
            self.head_conv = _channels_last(head_conv)
            self.head_act = _in_place(head_act)
            self.register_buffer('last_weight', net.conv_last.weight.detach().flatten(1).t().contiguous())
            self.register_buffer('last_bias', net.conv_last.bias.detach().clone())
        assert COARSEST in self.steps, 'the coarse modulation needs AE3\'s 1/8-scale output unfolded'
        self.context = copy.deepcopy(net.context)
        self.global_branch = copy.deepcopy(net.global_branch)
        self.exposure_condition = copy.deepcopy(net.exposure_condition)
        self.receptive_radius = net.receptive_radius
        self._last_use = self._last_uses()
        self._pool = _BufferPool()

    def _last_uses(self):
        """For each step, the matrices that no later step reads: given back to the pool after it. (FEATURES
        is read by the head only, so it is not among them.)"""
        last = {}
        for name, step in self.steps.items():
            for source in step.sources:
                last[source] = name
        return {name: [source for source, at in last.items() if at == name] for name in self.steps}

    @torch.no_grad()
    def global_features(self, x, exposure=None):
        return whole_image_modulations(x, [self.context, self.global_branch], self.exposure_condition, exposure)

    @torch.no_grad()
    def forward(self, x, global_features=None, exposure=None):
        n, c, height, width = x.shape
        if global_features is None:
            global_features = self.global_features(x, exposure)
        elif exposure is not None:
            raise InputError('FastMSIAGenerator: give the exposure to global_features, not beside its result')
        x = pad_to_multiple(x, 2 ** LEVELS)
        h, w = x.shape[-2:]
        pool = self._pool
        pool.start((x.shape, x.dtype, x.device, torch.is_inference_mode_enabled()))
        env = {'shape': (n, h, w), INPUT: input_patches(x, pool.take(n * h * w, c * 9, like=x))}
        for name, step in self.steps.items():
            env[name] = step(env, pool)
            if name in self.blurred_up_acts and name != FEATURES:
                env[name] = self._blur_up(name, env[name], n, h, w, pool)
            if name == COARSEST:
                _modulate(env[name], n, global_features.get('coarse'))
            for source in self._last_use[name]:
                pool.give(env.pop(source))
        features = env.pop(FEATURES)
        raster = quadtree_to_raster(features, n, h, w, pool.take(n, h, w, features.shape[1], like=features))
        pool.give(features)
        if FEATURES in self.blurred_up_acts:
            blurred = self._blurred_and_activated(FEATURES, raster)
            pool.give(raster)
            raster = blurred
        _modulate(raster, n, global_features.get('head'))
        head = self.head_act(self.head_conv(raster.permute(0, 3, 1, 2)))  # channels-last (N, C, H, W)
        pool.give(raster)
        out = torch.addmm(self.last_bias, head.permute(0, 2, 3, 1).reshape(n * h * w, -1), self.last_weight)
        return out.view(n, h, w, -1).permute(0, 3, 1, 2)[..., :height, :width].contiguous()

    def _blur_up(self, name, m, n, h, w, pool):
        """The matrix m (pixels, C) that AE3's up step ``name`` wrote, blurred and activated in place."""
        level = AE3_UPS[name]
        raster = quadtree_to_raster(m, n, h >> level, w >> level, pool.take(n, h >> level, w >> level, m.shape[1],
                                                                              like=m), level)
        blurred = self._blurred_and_activated(name, raster)
        pool.give(raster)
        return raster_to_quadtree(blurred, m, level)

    def _blurred_and_activated(self, name, raster):
        """raster (N, H, W, C) that AE3's up step ``name`` wrote -> a new (N, H, W, C), contiguous (blur keeps the
        channels-last layout): blurred, then through the step's activation."""
        return self.blurred_up_acts[name](blur(raster.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)


def _modulate(features, n, modulation):
    """features (N * pixels, F) or (N, H, W, F), contiguous, pixels of each image together: times its image's
    scale plus its shift, (N, F, 1, 1) each, in place; unchanged if ``modulation`` is None."""
    if modulation is not None:
        scale, shift = modulation
        features.view(n, -1, scale.shape[1]).mul_(scale.view(n, 1, -1)).add_(shift.view(n, 1, -1))


def _in_place(act):
    """A copy of the activation module that overwrites its input where the module allows it."""
    act = copy.deepcopy(act)
    if hasattr(act, 'inplace'):
        act.inplace = True
    return act


def _channels_last(module):
    """A copy of ``module`` with its conv weights in channels-last order (what oneDNN prefers)."""
    return copy.deepcopy(module).to(memory_format=torch.channels_last)
