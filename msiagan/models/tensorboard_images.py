"""Validation pictures in TensorBoard: input | output | reference of the first validation images, at each step."""
from os import path as osp

import numpy as np
from basicsr.utils import tensor2img

TB_IMAGES_DEFAULT = 4


class TensorboardImagesMixin:
    """For a BasicSR SRModel: with a TensorBoard writer, each validation also logs, for its first
    ``logger:tb_images`` images (default 4, 0: none), input | output | reference side by side (RGB, HWC uint8) under
    ``images/<dataset>/<image>`` at the validation's iteration. Taken from the visuals BasicSR's validation makes,
    so no image is enhanced twice."""
    tb_images_left = 0  # of the validation under way

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        self.tb_images_left = self.opt['logger'].get('tb_images', TB_IMAGES_DEFAULT) if tb_logger else 0
        self.tb_images = []  # (image name, side-by-side image)
        try:
            super().nondist_validation(dataloader, current_iter, tb_logger, save_img)
        finally:
            self.tb_images_left = 0
        for name, image in self.tb_images:
            tb_logger.add_image(f"images/{dataloader.dataset.opt['name']}/{name}", image, current_iter,
                                dataformats='HWC')
        self.tb_images = []

    def feed_data(self, data):
        super().feed_data(data)
        self.fed_paths = data.get('lq_path')  # BasicSR's validation names its images by it too

    def get_current_visuals(self):
        visuals = super().get_current_visuals()
        if self.tb_images_left > 0:
            self.tb_images_left -= 1
            parts = [visuals[key] for key in ('lq', 'result', 'gt') if key in visuals]
            name = osp.splitext(osp.basename(self.fed_paths[0]))[0]
            self.tb_images.append((name, np.concatenate([tensor2img([part], rgb2bgr=False) for part in parts], 1)))
        return visuals
