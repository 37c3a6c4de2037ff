"""DistributedDataParallel on CPUs too: BasicSR 1.4.2's ``BaseModel.model_to_device`` gives it
``device_ids=[torch.cuda.current_device()]``. (Joining the process group on CPUs: msiagan.basicsr_patches.launchers.)
"""
from torch.nn.parallel import DistributedDataParallel


class DistributedModelMixin:
    """For a BasicSR model: DistributedDataParallel on the CPU too (BasicSR's needs a CUDA device)."""

    def model_to_device(self, net):
        if not (self.opt['dist'] and self.device.type == 'cpu'):
            return super().model_to_device(net)
        return DistributedDataParallel(net.to(self.device),
                                       find_unused_parameters=self.opt.get('find_unused_parameters', False))

    def dist_validation(self, *args, **kwargs):
        """BasicSR's (process 0 validates alone), on the bare generator: wrapped in DistributedDataParallel, a
        generator with buffers (BatchNorm) would wait in its forward for the other processes to share them."""
        net_g, self.net_g = self.net_g, self.get_bare_model(self.net_g)
        try:
            super().dist_validation(*args, **kwargs)
        finally:
            self.net_g = net_g
