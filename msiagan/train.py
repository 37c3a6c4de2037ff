"""Train from a BasicSR options file: ``python msiagan/train.py -opt options/lol_gan.yml`` (or ``msiagan-train``).

BasicSR's flags all work: --auto_resume, --force_yml, --launcher, --debug, --local_rank. Ours: --quiet shows
only a progress line per print_freq and the validation results (the full log stays in the experiment folder).
Several processes: ``torchrun --nproc_per_node=N msiagan/train.py -opt ... --launcher pytorch`` (NCCL on GPUs,
gloo on CPUs).
"""
import sys
from os import path as osp

if __package__ in (None, ''):  # run as a file: import the package from this checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import msiagan  # noqa: E402,F401  (first: makes basicsr importable, registers everything)
from basicsr import train as basicsr_train  # noqa: E402

from msiagan.utils.distributed import leave_process_group, use_cpu_capable_init_dist  # noqa: E402
from msiagan.utils.entry import project_root, run_cli  # noqa: E402
from msiagan.utils.options_file import use_safe_options_parsing  # noqa: E402
from msiagan.utils.quiet_console import install_quiet_console  # noqa: E402
from msiagan.utils.resume import install_exact_resume  # noqa: E402
from msiagan.utils.run_files import install_run_file_checks  # noqa: E402


def main():
    use_cpu_capable_init_dist()
    use_safe_options_parsing()
    install_exact_resume()
    install_run_file_checks()
    if '--quiet' in sys.argv:  # ours, not BasicSR's: taken out before BasicSR reads the flags
        sys.argv.remove('--quiet')
        install_quiet_console()
    run_cli('msiagan-train', lambda: train_and_leave_process_group(project_root()), is_train=True)


def train_and_leave_process_group(root_path):
    """BasicSR's training pipeline; then, however it ended, the process group of a distributed run destroyed."""
    try:
        basicsr_train.train_pipeline(root_path)
    finally:
        leave_process_group()


if __name__ == '__main__':
    main()
