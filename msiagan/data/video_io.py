"""Videos enhanced frame by frame: decoded, passed through a function and encoded again, streaming, through PyAV.

PyAV (``pip install 'msiagan[video]'``) binds FFmpeg's libraries, which its wheels ship: no system FFmpeg. It runs
in this process, so frames, timestamps and audio packets are objects rather than bytes piped to a subprocess:
each frame keeps its timestamp, the audio is copied packet by packet, unchanged, and errors are exceptions that
say which file and what went wrong.

The output has the input's container (its extension), size, rotation, colour tags (BT.709 stays BT.709), frame
rate, timestamps and frame count, and the input's audio streams copied unchanged; the video is H.264 (VP9 in .webm),
8-bit, CRF 18 (visually lossless), 4:2:0 (4:4:4 where the width or height is odd, which 4:2:0 cannot hold); other
streams (subtitles, data) are dropped.
Frames are read, enhanced and written one at a time (the encoder holds a few dozen for its lookahead), so memory
does not grow with the video's length.

Partial output: it is written to ``<name>.partial<ext>`` beside the output and renamed when complete. A video that
stops decoding part of the way (truncated, or corrupt from some point on) leaves the frames enhanced until then,
with their audio, in that file, finished so that it plays; the error says how many. Any other failure (the output
cannot be written or encoded, Ctrl-C) leaves nothing behind.
"""
import os
from fractions import Fraction
from os import path as osp

import numpy as np

from msiagan.utils.errors import InputError, OutputError
from msiagan.utils.writing import cause

VIDEO_EXTENSIONS = ('.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi')
FORMATS = {'.mp4': 'mp4', '.m4v': 'mp4', '.mov': 'mov', '.mkv': 'matroska', '.webm': 'webm', '.avi': 'avi'}
ENCODERS = {'.webm': ('libvpx-vp9', {'crf': '18', 'b': '0', 'row-mt': '1'})}  # the others: H.264
H264 = ('libx264', {'crf': '18', 'preset': 'medium'})
COLOUR_TAGS = ('colorspace', 'color_primaries', 'color_trc', 'color_range')  # copied, and RGB converted by them


def import_av(path):
    """The av module, or an InputError naming the video ``path`` that says how to install it."""
    try:
        import av
    except ImportError:
        raise InputError(f"{path}: videos need PyAV: pip install 'msiagan[video]'") from None
    return av


def is_video_file(path):
    return osp.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def partial_path(out_path):
    """Where ``out_path`` is written until it is complete: <stem>.partial<ext> beside it."""
    stem, ext = osp.splitext(out_path)
    return f'{stem}.partial{ext}'


class VideoInput:
    """An open video file (a context manager): ``stream`` (its first video stream), ``audio`` (its audio streams),
    ``fps`` (a Fraction), ``frames`` (as its header says; 0 if it does not say), ``size`` ((width, height)),
    ``packets()``; InputErrors name the file."""

    def __init__(self, path):
        self.av, self.path = import_av(path), path
        try:
            self.container = self.av.open(path, metadata_errors='ignore')
        except self.av.FFmpegError as error:
            what = 'truncated, or not a video: ' if isinstance(error, self.av.InvalidDataError) else ''
            raise InputError(f'{path}: cannot read this video ({what}{reason(error)})') from None
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f'{path}: has no video stream')
        self.stream = self.container.streams.video[0]
        if self.stream.codec_context is None:
            self.container.close()
            raise InputError(f'{path}: cannot decode its video (a codec FFmpeg does not know)')
        self.audio = list(self.container.streams.audio)
        rate = self.stream.average_rate or self.stream.guessed_rate
        if not rate:
            self.container.close()
            raise InputError(f'{path}: its video has no frame rate')
        self.fps, self.frames = Fraction(rate), self.stream.frames
        self.size = self.stream.width, self.stream.height

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.container.close()

    def packets(self):
        """Its video and audio packets in file order; a DecodeError where demuxing fails."""
        try:
            yield from self.container.demux(self.stream, *self.audio)
        except self.av.FFmpegError as error:
            raise DecodeError(reason(error)) from None

    def decode(self, packet):
        """The frames of a video packet; a DecodeError where it does not decode."""
        try:
            return packet.decode()
        except self.av.FFmpegError as error:
            raise DecodeError(reason(error)) from None


class DecodeError(Exception):
    """The input stopped decoding part of the way (its message: FFmpeg's reason)."""


def reason(error):
    """FFmpeg's reason for ``error`` in one line, without the errno and file name PyAV adds."""
    message = getattr(error, 'strerror', None) or str(error)
    return str(message).strip().splitlines()[0]


class VideoOutput:
    """The video being written to ``partial_path(out_path)``, in the input's container, with its audio streams."""

    def __init__(self, source, out_path):
        self.av, self.out_path, self.path = source.av, out_path, partial_path(out_path)
        ext = osp.splitext(out_path)[1].lower()
        codec, options = ENCODERS.get(ext, H264)
        self.file = open(self.path, 'wb')
        try:
            self.container = self.av.open(self.file, 'w', format=FORMATS[ext])
            self.stream = self.container.add_stream(codec, rate=source.fps, options=options)
            width, height = source.size
            self.stream.width, self.stream.height = width, height
            self.stream.pix_fmt = 'yuv420p' if width % 2 == 0 and height % 2 == 0 else 'yuv444p'
            self.stream.time_base = source.stream.time_base
            for tag in COLOUR_TAGS:
                setattr(self.stream.codec_context, tag, getattr(source.stream.codec_context, tag))
            self.audio = {stream.index: self.container.add_stream_from_template(stream) for stream in source.audio}
        except BaseException:
            self.discard()
            raise
        self.written = 0
        self.waiting = []  # audio packets held until the first frame has set the rotation (the header comes first)

    def write_frame(self, rgb, like):
        """Encode ``rgb`` (H, W, 3) uint8 with the timestamp and colour space of the decoded frame ``like`` (and, for
        the first, its rotation: a phone's upright video is stored on its side with a rotation to show it)."""
        frame = self.av.VideoFrame.from_ndarray(rgb, format='rgb24').reformat(
            format=self.stream.pix_fmt, dst_colorspace=like.colorspace, dst_color_range=like.color_range)
        frame.pts, frame.time_base = like.pts, like.time_base
        if not self.written and like.rotation:
            self.stream.set_display_rotation(like.rotation)
        self.container.mux(self.stream.encode(frame))
        self.written += 1
        self.container.mux(self.waiting)
        self.waiting = []

    def copy_packet(self, packet):
        """Copy an audio packet of the input as it is."""
        if packet.dts is None:  # the demuxer's empty packet at the end of a stream
            return
        packet.stream = self.audio[packet.stream.index]
        if self.written:
            self.container.mux(packet)
        else:
            self.waiting.append(packet)

    def finish(self):
        """Flush the encoder and close the file, so that it plays (``path`` is then complete)."""
        self.container.mux(self.stream.encode())
        self.container.close()
        self.file.close()

    def discard(self):
        """Close what is open and remove the file."""
        for closable in (getattr(self, 'container', None), self.file):
            try:
                if closable is not None:
                    closable.close()
            except (OSError, self.av.FFmpegError):
                pass
        if osp.lexists(self.path):
            os.remove(self.path)


def write_enhanced(source, out_path, enhance_frame, progress=None):
    """Write ``out_path``: the video ``source`` (a VideoInput) with each frame through ``enhance_frame`` (module
    docstring); returns the number of frames written.

    enhance_frame: (H, W, 3) uint8 RGB -> the same, called on the frames in order. progress: called after each
    frame. Raises an InputError where the input stops decoding (``partial_path(out_path)`` then holds the frames
    enhanced until then, if any) or an OutputError where the output cannot be written (nothing left), naming the
    file.
    """
    try:
        output = VideoOutput(source, out_path)
    except (OSError, source.av.FFmpegError) as error:
        raise OutputError(f'{out_path}: cannot write ({cause(error, out_path)})') from None
    try:
        transcode(source, output, enhance_frame, progress)
        if source.frames and output.written < source.frames:
            raise DecodeError(f'truncated: {output.written} of the {source.frames} frames its header lists')
        output.finish()
        os.replace(output.path, out_path)
    except DecodeError as error:
        raise keep_partial(output, f'{source.path}: stops decoding after {output.written} frames ({error})') from None
    except BaseException as error:
        output.discard()
        if isinstance(error, (OSError, source.av.FFmpegError)):
            raise OutputError(f'{out_path}: cannot write ({cause(error, out_path)})') from None
        raise
    return output.written


def transcode(source, output, enhance_frame, progress):
    """Each packet of ``source`` into ``output``: audio copied, video decoded, enhanced and encoded."""
    for packet in source.packets():
        if packet.stream.type == 'audio':
            output.copy_packet(packet)
            continue
        for frame in source.decode(packet):
            output.write_frame(np.ascontiguousarray(enhance_frame(frame.to_ndarray(format='rgb24'))), frame)
            if progress is not None:
                progress()


def keep_partial(output, message):
    """The InputError for a video that stopped decoding: the frames enhanced so far finished into a playable
    ``output.path``, or nothing left if there were none or it cannot be finished."""
    if output.written:
        try:
            output.finish()
            return InputError(f'{message}; the {output.written} enhanced frames are in {output.path}')
        except (OSError, output.av.FFmpegError):
            pass
    output.discard()
    return InputError(f'{message}; nothing written')
