"""Exposure handled on purpose at inference, around any generator (Enhancer, so msiagan-enhance and compare.py).

A generator trained on LOL-v1 saw inputs of one darkness range only, and learnt to brighten them a lot: given a
photo that is already well exposed, it blows it out. ``ExposureControl`` wraps the generator:

1. **In range**: the input is scaled in linear light so that its linear mean (msiagan.metrics.exposure) lies within
   the training inputs' (their 2nd to 98th percentile); inputs already inside are left as they are.
2. **Exposure set on purpose**: the output keeps the generator's exposure for dark photos (linear mean up to the
   training inputs' 98th percentile), takes the photo's own for photos as bright as the training references (their
   10th percentile) and above, and blends the two in between (log-linear, smoothstep: no jump anywhere). The photo's
   own exposure is its linear mean, lifted where its highlights show headroom: a photo whose brightest channel's
   99th percentile stays below that of most training references (their 25th percentile) was shot darker than it
   could have been, by about that ratio (at most HEADROOM_GAIN_MAX). This tells a dim scene shot well (highlights
   near white) from a bright scene shot dark (highlights far below white), which the mean alone cannot. The output
   is rescaled to that exposure; a generator with an exposure condition (MSIAGenerator's exposure_condition) renders
   it instead, from the photo as it is, and its output is rescaled to it exactly (the condition reaches it only
   roughly).
3. **--exposure EV**: the result brighter or darker by EV stops in linear light (``scale_exposure``: highlights
   rolled off towards white rather than clipped; the identity at 0 EV). A generator with an exposure condition
   renders the brighter or darker target itself, as far as it stays within the training references' exposures
   (their 10th to 98th percentile, widened to the default target if that lies outside), and the rest is rescaled.

Each step uses one number per image, computed on the whole image (before tiles are cut, as the global branch's
features are). The ranges come from the training pairs, stored beside the weights (``ExposureRange``); without
them only step 3 runs.
"""
import math
from dataclasses import dataclass
from os import path as osp

import torch

from msiagan.basicsr_patches.options_file import read_options_file
from msiagan.metrics.exposure import GAMMA
from msiagan.utils.errors import InputError

RANGE_KEY = 'exposure_range'  # the block in <weights stem>.yml
HEADROOM_GAIN_MAX = 16.0  # at most 4 stops of lift read from a photo's highlights
EXPOSURE_LIMIT = 4.0  # --exposure: at most this many stops either way
STATS_PIXELS = 1 << 16  # statistics of larger images on an evenly strided subset of at most this many pixels
GAIN_LIMIT = 64.0  # gain_for_mean: at most this gain either way
SEARCH_STEPS = 30  # gain_for_mean: at most this many steps of its search
SEARCH_TOLERANCE = 1e-6  # gain_for_mean: the mean it reaches, relative to the target


@dataclass(frozen=True)
class ExposureRange:
    """The exposure of the pairs a generator was trained on, in linear light (msiagan.metrics.exposure).

    Attributes:
        input_low, input_high: the 2nd and 98th percentiles of the training inputs' linear means.
        reference_low, reference_high: the 10th and 98th percentiles of the training references' linear means.
        reference_highlight: the 25th percentile of the training references' highlights (``highlight``): a photo
            whose highlights stay below it is read as shot darker than it could have been (the percentile chosen
            on LOL-v1's val: docs/enhancing.md#exposure).
    """
    input_low: float
    input_high: float
    reference_low: float
    reference_high: float
    reference_highlight: float

    @classmethod
    def from_options(cls, block, source):
        """From the ``exposure_range`` block that exposure_stats.py --write-range writes; ``source`` names the file."""
        try:
            values = cls(float(block['input_mean']['p2']), float(block['input_mean']['p98']),
                         float(block['reference_mean']['p10']), float(block['reference_mean']['p98']),
                         float(block['reference_highlight']['p25']))
        except (KeyError, TypeError, ValueError):
            raise InputError(f'{source}: {RANGE_KEY} is not as exposure_stats.py --write-range writes it '
                             '(input_mean p2 and p98, reference_mean p10 and p98, reference_highlight p25; a block '
                             'written before reference_highlight p25 existed: run exposure_stats.py --write-range '
                             'again, then export_onnx.py again for an ONNX file)') from None
        if not 0 < values.input_low <= values.input_high < values.reference_low <= values.reference_high <= 1 or \
                not 0 < values.reference_highlight <= 1:
            raise InputError(f'{source}: {RANGE_KEY} {values}: needs 0 < input p2 <= input p98 < reference p10 <= '
                             'reference p98 <= 1 and a reference highlight in (0, 1]')
        return values

    @classmethod
    def beside(cls, weights):
        """The range stored in ``<weights stem>.yml`` beside ``weights``; None if there is no such file or block."""
        block, options_file = stored_block(weights)
        return None if block is None else cls.from_options(block, options_file)


def stored_block(weights):
    """(the ``exposure_range`` block of ``<weights stem>.yml`` beside ``weights``, or None, and that file's path)."""
    options_file = osp.splitext(weights)[0] + '.yml'
    if not osp.isfile(options_file):
        return None, options_file
    return read_options_file(options_file).get(RANGE_KEY), options_file


def scale_exposure(linear, gain):
    """Linear light (values in [0, 1]) times ``gain``, highlights rolled off towards white instead of clipped.

    gain <= 1: plain scaling. gain > 1: values up to 1 / gain are scaled exactly; above, a rational curve takes
    [1 / gain, gain] (the scaled values) to [1 / gain, 1], with slope 1 where it starts, so 1 stays 1. The identity
    at gain 1; brighter with every larger gain at every value in (0, 1).
    """
    scaled = linear * gain
    if gain <= 1:
        return scaled
    knee = 1 / gain
    over = ((scaled - knee) / (gain - knee)).clamp_(min=0)
    rolled = knee + (1 - knee) * (gain + 1) * over / (1 + gain * over)
    return torch.where(scaled <= knee, scaled, rolled)


def sample_pixels(x):
    """x (C, H, W) strided to at most STATS_PIXELS pixels, evenly over the whole image, for its statistics."""
    step = math.ceil(math.sqrt(x.shape[-2] * x.shape[-1] / STATS_PIXELS))
    return x[:, ::step, ::step]


def linear_mean(image):
    """The linear mean of ``image`` (3, H, W) in sRGB values, on ``sample_pixels``; at least 1e-8."""
    return max(float((sample_pixels(image).float().clamp(0, 1) ** GAMMA).mean()), 1e-8)


def gain_for_mean(linear, target):
    """The gain g, from 1 / GAIN_LIMIT to GAIN_LIMIT, with ``scale_exposure(linear, g).mean() == target`` (to a
    relative SEARCH_TOLERANCE, on ``sample_pixels``); linear (C, H, W).

    Darker (target at most the mean) is plain scaling: g = target / mean. Brighter rolls highlights off, so the mean
    grows more slowly than g, from target / mean on: g is searched above it by regula falsi on log g (the Illinois
    variant: a few steps where bisection takes twenty)."""
    sample = sample_pixels(linear)
    mean = float(sample.mean())
    if mean <= 0:
        return GAIN_LIMIT  # black: no gain changes it
    if target <= mean:
        return max(target / mean, 1 / GAIN_LIMIT)

    def excess(log_gain):
        return float(scale_exposure(sample, math.exp(log_gain)).mean()) - target

    if target / mean >= GAIN_LIMIT:
        return GAIN_LIMIT
    low, high = math.log(target / mean), math.log(GAIN_LIMIT)
    low_excess, high_excess = excess(low), excess(high)
    if low_excess >= 0:  # nothing rolled off at target / mean
        return target / mean
    if high_excess <= 0:  # beyond what the largest gain reaches
        return GAIN_LIMIT
    kept = 0  # the end kept by the last step: -1 low, 1 high; kept twice, its excess is halved (Illinois)
    middle = low
    for _ in range(SEARCH_STEPS):
        middle = (low * high_excess - high * low_excess) / (high_excess - low_excess)
        middle_excess = excess(middle)
        if abs(middle_excess) <= SEARCH_TOLERANCE * target:
            break
        if middle_excess < 0:
            low, low_excess = middle, middle_excess
            high_excess = high_excess / 2 if kept == 1 else high_excess
            kept = 1
        else:
            high, high_excess = middle, middle_excess
            low_excess = low_excess / 2 if kept == -1 else low_excess
            kept = -1
    return math.exp(middle)


def exposed(image, mean=None, gain=1.0):
    """``image`` (3, H, W) in [0, 1] (sRGB values) rescaled in linear light to the linear mean ``mean`` (if given:
    ``gain_for_mean``), then by ``gain`` (``scale_exposure``); in image's dtype."""
    linear = image.float().clamp(0, 1) ** GAMMA
    if mean is not None:
        linear = scale_exposure(linear, gain_for_mean(linear, mean))
    return (scale_exposure(linear, gain).clamp_(0, 1) ** (1 / GAMMA)).to(image.dtype)


def smoothstep(low, high, value):
    """0 at or below ``low``, 1 at or above ``high``, smooth (C1) in between; on the log of each."""
    t = min(max((math.log(value) - math.log(low)) / (math.log(high) - math.log(low)), 0.0), 1.0)
    return t * t * (3 - 2 * t)


class ExposureControl:
    """Steps 1 to 3 of the module docstring around a generator.

    Args:
        exposure_range (ExposureRange | None): the training pairs' range; None: steps 1 and 2 are skipped.
        exposure (float): EV stops, in [-EXPOSURE_LIMIT, EXPOSURE_LIMIT]; 0: the default output.
    """

    def __init__(self, exposure_range=None, exposure=0.0):
        if not isinstance(exposure, (int, float)) or not -EXPOSURE_LIMIT <= exposure <= EXPOSURE_LIMIT:
            raise InputError(f'exposure {exposure!r}: must be a number of stops from {-EXPOSURE_LIMIT:g} to '
                             f'{EXPOSURE_LIMIT:g}')
        self.range, self.exposure = exposure_range, float(exposure)

    def run(self, generator, x, smooth=None, render=None, steady=False):
        """``generator`` (a callable on (N, 3, H, W) in [0, 1], giving the same in [0, 1]) on x with the exposure
        handled; returns (N, 3, H, W) float in [0, 1].

        smooth (ExponentialSmoother | None): for a video's frames (x holds one; msiagan.inference.temporal): the
        input's linear mean and highlight are replaced by ``smooth(name, value)``, their average over the frames so
        far. Default: each image on its own.
        steady (bool): with ``smooth``, whether the generator's output is steady over frames already (its global
            features are averaged: ``Enhancer``): its mean is then taken as it is, not averaged a second time, which
            would lag behind the frames the output shows, so that the frame where step 2 starts to change the
            exposure would jump by the lag. False: the output's linear mean is averaged ('output mean') and replaces
            the frame's own in step 2's target, so that a dark frame is rescaled to that average too.
        render (callable | None): for a generator with an exposure condition, ``render(x, exposure)``: the same
            generator on x (n, 3, H, W) asked for the linear means ``exposure`` (n,). Steps 2 and 3 then render
            each image they change at its target (``rendered``) rather than only rescaling the output.
        """
        if self.range is None:
            return self.finish(generator(x), [None] * len(x))
        plans = [self.plan(image, smooth) for image in x]
        scales = torch.tensor([plan['input scale'] for plan in plans], dtype=x.dtype, device=x.device)
        inputs = (x * scales[:, None, None, None]).clamp_(0, 1)
        averaged = None if steady else smooth
        if render is None:
            return self.finish(generator(inputs), plans, averaged)
        return self.rendered(generator, x, inputs, plans, render, averaged)

    def rendered(self, generator, x, inputs, plans, render, smooth=None):
        """Steps 2 and 3 with ``render`` (``run``'s) on x and its step-1 ``inputs``. The generator's own choice is
        run only for the images whose target needs it (weight below 1). Each image whose exposure is changed is
        rendered at its target, bounded by ``render_target``: one with weight above 0 from the photo as it is (step 1
        serves the generator's own choice), a dark one given --exposure from what the generator saw, unless the
        bound leaves its target where the generator put it. Each output is then rescaled to its render's target
        exactly, and by what is left of the EV stops. smooth: for a video's frame from a generator that is not steady
        (``run``), the average of the output's mean, which a dark frame is rescaled to (dropped by a frame that skips
        the generator's own choice, rather than left stale for a later one)."""
        own = [index for index, plan in enumerate(plans) if plan['weight'] == 1]  # no need of the generator's choice
        if not own:
            out = generator(inputs)
        else:
            out = inputs.new_empty(inputs.shape)
            chosen = [index for index in range(len(plans)) if index not in own]
            if chosen:
                out[chosen] = generator(inputs[chosen])
        if smooth is not None:  # one frame
            if own:
                smooth.forget('output mean')
            else:
                plans = self.with_generator_means(out, plans, smooth)
        averaged = smooth is not None and not own  # the frame's target is the averaged output mean, if not its own
        changed = [index for index, plan in enumerate(plans) if plan['weight'] > 0 or self.exposure != 0 or averaged]
        if not changed:
            return out
        if not own:
            out = out.clone()  # not the generator's output, which rendering runs it again beside
        targets = {index: self.target_mean(out[index], plans[index]) for index in changed}
        asked = {index: target * 2 ** self.exposure for index, target in targets.items()}
        bounded = {index: self.render_target(targets[index], asked[index]) for index in changed}
        again = [index for index in changed if plans[index]['weight'] > 0 or bounded[index] != targets[index]]
        if again:
            sources = torch.stack([(x if plans[index]['weight'] > 0 else inputs)[index] for index in again])
            out[again] = render(sources, torch.tensor([bounded[i] for i in again], device=x.device)).to(out.dtype)
        for index in changed:
            rescaled_to = bounded[index] if index in again or averaged else None  # else: where the generator put it
            out[index] = exposed(out[index], rescaled_to, asked[index] / bounded[index])
        return out

    def render_target(self, target, asked):
        """The exposure to render an image at whose step-2 ``target`` --exposure moves to ``asked`` (linear means):
        ``asked`` within the training references' exposures (reference_low to reference_high), widened to take in
        ``target``: the condition is never asked beyond what it was trained on further than the default is."""
        return min(max(asked, min(target, self.range.reference_low)), max(target, self.range.reference_high))

    def plan(self, image, smooth=None):
        """What steps 1 and 2 do to ``image`` (3, H, W) in [0, 1]: its 'input scale' (of its sRGB values, the
        generator's input) and its 'own mean' and 'weight' (of that exposure against the generator's)."""
        linear = sample_pixels(image).float().clamp(0, 1) ** GAMMA
        mean = max(float(linear.mean()), 1e-8)
        highlight = max(float(torch.quantile(linear.amax(dim=0).flatten(), 0.99)), 1e-8)
        if smooth is not None:
            mean, highlight = smooth('input mean', mean), smooth('input highlight', highlight)
        in_range = min(max(mean, self.range.input_low), self.range.input_high)
        headroom = min(max(self.range.reference_highlight / highlight, 1.0), HEADROOM_GAIN_MAX)
        return {'input scale': (in_range / mean) ** (1 / GAMMA), 'own mean': mean * headroom,
                'weight': smoothstep(self.range.input_high, self.range.reference_low, mean)}

    def finish(self, out, plans, smooth=None):
        """Steps 2 and 3 on the generator's output (N, 3, H, W) in [0, 1], image by image, by rescaling. smooth: for a
        video's frame from a generator that is not steady (``run``), the average of the output's mean over the frames
        so far, which replaces the frame's own in its target (a dark frame is rescaled to it)."""
        averaged = smooth is not None  # given only with the training range, so with a plan
        if averaged:  # every frame, so that the average is never stale
            plans = self.with_generator_means(out, plans, smooth)
        adjusted = [plan is not None and (plan['weight'] > 0 or averaged) for plan in plans]
        if not any(adjusted) and self.exposure == 0:
            return out
        targets = {index: self.target_mean(image, plan) for index, (image, plan, adjust)
                   in enumerate(zip(out, plans, adjusted)) if adjust}
        return torch.stack([image if not adjust and self.exposure == 0  # the generator's exposure, as it is
                            else exposed(image, targets.get(number), 2 ** self.exposure)
                            for number, (image, adjust) in enumerate(zip(out, adjusted))])

    @staticmethod
    def with_generator_means(out, plans, smooth):
        """``plans`` with each image's 'generator mean': the linear mean of the generator's output for it, in
        ``out``, averaged over a video's frames by ``smooth``."""
        return [{**plan, 'generator mean': smooth('output mean', linear_mean(image))}
                for image, plan in zip(out, plans)]

    @staticmethod
    def target_mean(image, plan):
        """Step 2's linear mean for the generator's output ``image`` (3, H, W): between the generator's own and the
        photo's, by the plan's weight (log-linear); the photo's own without measuring the output at weight 1."""
        if plan['weight'] == 1:
            return plan['own mean']
        generator_mean = plan.get('generator mean') or linear_mean(image)
        return math.exp((1 - plan['weight']) * math.log(generator_mean) + plan['weight'] * math.log(plan['own mean']))
