"""Paired low-light dataset: inputs and references matched by file stem, from folders or LMDB."""
from concurrent.futures import ThreadPoolExecutor

import torch
from basicsr.utils import FileClient, get_root_logger
from basicsr.utils.registry import DATASET_REGISTRY
from torch.utils import data

from msiagan.metrics.exposure import GAMMA
from msiagan.utils.errors import InputError

from .exposure_synthesis import ExposureSynthesis
from .image_io import decode_stored, to_three_channels, to_unit_float
from .jpeg_inputs import JpegInputs
from .lmdb_envs import SharedLmdbBackend
from .pair_storage import ArrayPairs, DevicePairs
from .pairing import paired_keys_from_lmdb, paired_paths_from_folders, restrict_to_meta_info
from .transforms import flip_and_turn, pad_to_size, resize_image

CACHES = (None, 'memory', 'device')


@DATASET_REGISTRY.register()
class PairedLowLightDataset(data.Dataset):
    """Low-light inputs ('lq') and normally exposed references ('gt'), paired by file stem.

    Stems pair whatever the extensions (LOL-v1 here: .png inputs, .jpg references); pairs are sorted by
    stem. Images are read as 3-channel float RGB in [0, 1] (``image_io.decode_image`` gives the rule for
    grayscale, alpha and 16-bit files).

    Options (BasicSR's key names):
        dataroot_lq, dataroot_gt (str): Image folders, or the two .lmdb files of
            scripts/data_preparation/create_lmdb.py.
        io_backend (dict): {type: disk} or {type: lmdb} (read-only, opened once per process: lmdb_envs).
        meta_info_file (str, optional): Use only the stems this file lists (first word of each line).
        check_images (bool): Decode every pair once when the dataset is built, so an unreadable file, a
            pair of different sizes, or whole-frame (or lq_frame) training batches of mixed sizes (or of
            non-square whole frames with use_rot) stop the run before training starts. Default: True.
        resize ([width, height], optional): Resize both images first, in every phase (the paper: [600, 400]).
        resize_interp (str): nearest | bilinear | bicubic | area | lanczos. Default: area.
        Training phase only:
        gt_size (int | None): Random gt_size x gt_size crop, the same window on both images; an image
            smaller than that is padded up to it first (``pad_to_size``: reflect, or edge when a side is at most
            half that size). None: whole frames (batches need one size).
        use_hflip, use_rot (bool): Random horizontal flips; random vertical flips and 90-degree rotations.
        cache (str | None): None: decode the files for every item. 'memory': decode every pair once, when the
            dataset is built, and keep it (as stored: 8- or 16-bit, or float32 after ``resize``); crops and
            flips are then served from memory. 'device': the same, kept as (3, H, W) tensors on the current
            CUDA device (the CPU without one) and cropped and flipped there; needs num_worker_per_gpu: 0.
            Items are the same pixels, with the same crops and flips for the same random state, either way.
        lq_frame (bool): Items also carry 'lq_frame', the whole low-light frame as prepared (resized, never
            cropped or turned), so that a generator's global features read the whole image while it trains on
            crops, as they do when it enhances a photo (MSIAGANModel uses it; batches need one frame size).
            Default: False.
        lq_frame_flip (bool): With lq_frame, the frame gets its crop's horizontal and vertical flips (not the
            crop's transpose, which would change the frame's size), so that the global features also learn
            mirrored scenes. Default: False (the frame as prepared).
        exposure_synthesis (dict | None): Inputs made from the references at any darkness, mixed with the
            dataset's own: per item, the reference itself, a synthesized low-light capture of it, or the dataset's
            input (options and the model: exposure_synthesis.ExposureSynthesis). With lq_frame the whole frame is
            synthesized and cropped like the reference; without, only the crop. Default: None (the dataset's own).
        jpeg_inputs (dict | None): A share of the inputs saved as JPEG at a random quality, after cropping and
            exposure_synthesis (options: jpeg_inputs.JpegInputs); the whole frame (lq_frame) left as it is. Default:
            None (the inputs as they are).

    Items: {'lq': (3, H, W), 'gt': (3, H, W), 'lq_path', 'gt_path'} (and 'lq_frame' (3, H_frame, W_frame));
    float32 tensors (on the device with ``cache: device``). Training items also carry 'gt_exposure', the whole
    reference's exposure (its linear mean, msiagan.metrics.exposure), what a generator with an exposure condition
    is asked for (MSIAGANModel's train:exposure_given_probability).
    """

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.io_backend_opt = dict(opt['io_backend'])
        self.file_client = None
        lq_root, gt_root = opt['dataroot_lq'], opt['dataroot_gt']
        if self.io_backend_opt['type'] == 'lmdb':
            self.pairs = paired_keys_from_lmdb(lq_root, gt_root)
        else:
            self.pairs = paired_paths_from_folders(lq_root, gt_root)
        if opt.get('meta_info_file'):
            self.pairs = restrict_to_meta_info(self.pairs, opt['meta_info_file'])
        self.cache = None
        self.reference_exposures = {}  # index -> the whole reference's linear mean, before padding
        self.synthesis = self._training_inputs('exposure_synthesis', ExposureSynthesis)
        self.jpeg_inputs = self._training_inputs('jpeg_inputs', JpegInputs)
        if opt.get('lq_frame_flip', False) and not opt.get('lq_frame', False):
            raise InputError(f"datasets: {opt.get('name')}: lq_frame_flip: true flips the whole frames of "
                             f"lq_frame, which is off: set lq_frame: true or drop lq_frame_flip")
        if opt.get('cache') not in CACHES:
            raise InputError(f"datasets: {opt.get('name')}: cache '{opt['cache']}' is not one of: ~, memory, device")
        self.storage = DevicePairs if opt.get('cache') == 'device' else ArrayPairs  # how a prepared pair is held
        if opt.get('cache'):
            self.cache = self.cached_pairs(opt['cache'])
            self._check_whole_frames_batch([self.storage.size(lq) for lq, _ in self.cache])
        elif opt.get('check_images', True):
            self._check_whole_frames_batch(self.check_all_pairs())

    def check_all_pairs(self):
        """Decode every pair once (threads): an InputError for the first bad one, else the (H, W) of each."""
        self._open_file_client()
        with ThreadPoolExecutor() as pool:
            return list(pool.map(lambda pair: self._read_pair(pair)[0].shape[:2], self.pairs))

    def cached_pairs(self, cache):
        """Every pair decoded (threads) up to where random choices begin: [(lq, gt)], arrays as ``_prepared_pair``
        gives them, or for cache 'device' those moved to the device (pair_storage.DevicePairs)."""
        if cache == 'device' and self.opt.get('num_worker_per_gpu', 0) > 0:
            raise InputError(f"datasets: {self.opt.get('name')}: cache: device needs num_worker_per_gpu: 0 "
                             f"(it is {self.opt['num_worker_per_gpu']}): loader workers cannot share device memory")
        self._open_file_client()
        with ThreadPoolExecutor() as pool:
            pairs = list(pool.map(self._prepared_pair, range(len(self.pairs))))
        if cache == 'device':
            device = torch.device('cuda', torch.cuda.current_device()) if torch.cuda.is_available() else 'cpu'
            pairs = [DevicePairs.from_arrays(pair, device) for pair in pairs]
            size = sum(img.nelement() * img.element_size() for pair in pairs for img in pair)
        else:
            size = sum(img.nbytes for pair in pairs for img in pair)
        get_root_logger().info(f"{self.opt.get('name')}: {len(pairs)} pairs held in {cache} ({size / 2**30:.2f} GiB)")
        return pairs

    def _training_inputs(self, key, option_class):
        """``option_class(opt[key], where)`` for an option that makes training inputs; None where it is not set, an
        InputError in another phase."""
        if self.opt.get(key) is None:
            return None
        where = f"datasets: {self.opt.get('name')}: {key}"
        if not isinstance(self.opt[key], dict):
            raise InputError(f'{where}: {self.opt[key]!r} is not a mapping of options (~ for none)')
        if self.opt['phase'] != 'train':
            raise InputError(f"{where}: makes training inputs; the {self.opt['phase']} phase takes its inputs as "
                             'stored')
        return option_class(self.opt[key], where)

    def _check_whole_frames_batch(self, sizes):
        """Whole-frame training batches (no gt_size, or lq_frame) need every pair at one size (or resize), and
        square frames if use_rot may turn some of them (it never turns an lq_frame)."""
        opt = self.opt
        whole_frames = not opt.get('gt_size') or opt.get('lq_frame', False)
        if opt['phase'] != 'train' or not whole_frames or opt.get('batch_size_per_gpu', 1) <= 1 or not sizes:
            return
        frames = 'lq_frame: true' if opt.get('gt_size') else 'whole frames (gt_size: ~)'
        batches = f"batch_size_per_gpu {opt['batch_size_per_gpu']} with {frames}"
        if not opt.get('resize'):
            for pair, size in zip(self.pairs, sizes):
                if size != sizes[0]:
                    raise InputError(f"{batches} needs one image size, but {self.pairs[0]['lq_path']} is "
                                     f"{sizes[0][1]}x{sizes[0][0]} and {pair['lq_path']} is {size[1]}x{size[0]}: "
                                     f"set {'resize' if opt.get('gt_size') else 'gt_size or resize'}")
        width, height = opt['resize'] if opt.get('resize') else (sizes[0][1], sizes[0][0])
        if opt.get('use_rot') and width != height and not opt.get('gt_size'):
            raise InputError(f'{batches} and use_rot: a 90-degree turn makes a {width}x{height} frame '
                             f'{height}x{width}, and a batch needs one size: set use_rot: false or gt_size')

    def _open_file_client(self):
        if self.io_backend_opt['type'] == 'lmdb':
            self.file_client = SharedLmdbBackend([self.opt['dataroot_lq'], self.opt['dataroot_gt']], ['lq', 'gt'])
        else:
            backend_opt = dict(self.io_backend_opt)
            self.file_client = FileClient(backend_opt.pop('type'), **backend_opt)

    def _source(self, pair, role):
        """Where the ``role`` image of ``pair`` is, for messages: its path, or <the .lmdb>:<key>."""
        if self.io_backend_opt['type'] == 'lmdb':
            return f"{self.opt[f'dataroot_{role}']}:{pair[f'{role}_path']}"
        return pair[f'{role}_path']

    def _read_pair(self, pair):
        """Decoded (lq, gt) (H, W, 3) BGR arrays of one pair as stored (uint8 or uint16), checked to have the
        same size."""
        images = []
        for role in ('lq', 'gt'):
            try:
                content = self.file_client.get(pair[f'{role}_path'], role)
            except OSError as error:
                raise InputError(f'{self._source(pair, role)}: cannot open ({error.strerror})') from None
            images.append(to_three_channels(decode_stored(content, self._source(pair, role))))
        lq, gt = images
        if lq.shape != gt.shape:
            raise InputError(f"{self._source(pair, 'lq')} ({lq.shape[1]}x{lq.shape[0]}) and "
                             f"{self._source(pair, 'gt')} ({gt.shape[1]}x{gt.shape[0]}) differ in size")
        return lq, gt

    def _prepared_pair(self, index):
        """(lq, gt) of pair ``index`` read, resized and padded to gt_size, as far as no random choice is involved:
        (H, W, 3) BGR arrays, as stored, or float32 in [0, 1] once resized. In training, the reference's exposure
        (its linear mean, before any padding) is kept in ``reference_exposures`` the first time."""
        lq, gt = self._read_pair(self.pairs[index])
        if self.opt.get('resize'):
            interpolation = self.opt.get('resize_interp', 'area')
            lq, gt = (resize_image(to_unit_float(img), self.opt['resize'], interpolation) for img in (lq, gt))
        if self.opt['phase'] != 'train':
            return lq, gt
        if index not in self.reference_exposures:
            self.reference_exposures[index] = float((to_unit_float(gt).clip(0, 1)**GAMMA).mean())
        gt_size = self.opt.get('gt_size')
        if gt_size:
            lq, gt = pad_to_size(lq, gt_size), pad_to_size(gt, gt_size)
        return lq, gt

    def __getitem__(self, index):
        pair = self.pairs[index]
        if self.cache is not None:
            lq, gt = self.cache[index]
        else:
            if self.file_client is None:
                self._open_file_client()
            lq, gt = self._prepared_pair(index)
        item = {'lq_path': pair['lq_path'], 'gt_path': pair['gt_path']}
        if self.opt['phase'] == 'train':
            item['gt_exposure'] = self.reference_exposures[index]
            source = self.synthesis.choose() if self.synthesis else 'dataset'
            whole_frame = self.opt.get('lq_frame', False)
            if source == 'reference':
                lq = gt
            elif source == 'synthesized' and whole_frame:
                lq = self.synthesis.capture(gt)
            frame = lq
            lq, gt, (hflip, vflip, _) = self.storage.random_view(
                lq, gt, self.opt.get('gt_size'), self.opt.get('use_hflip', False), self.opt.get('use_rot', False),
                pair['gt_path'])
            if source == 'synthesized' and not whole_frame:
                lq = self.synthesis.capture(gt)  # the crop only: noise is per pixel, so it is the same as cropping
            if self.jpeg_inputs is not None:
                lq = self.jpeg_inputs(lq)
            if whole_frame:
                item['lq_frame'], = self.storage.item_tensors(frame)
                if self.opt.get('lq_frame_flip', False):
                    item['lq_frame'] = flip_and_turn(item['lq_frame'], hflip, vflip, rot90=False)
        item['lq'], item['gt'] = self.storage.item_tensors(lq, gt)
        return item

    def __len__(self):
        return len(self.pairs)
