"""Run a Python script as on a disk too full for some files (for tests of a whole run):

    python tests/run_on_full_disk.py PATTERN script.py [args]

runs script.py with ``open`` failing for writing, as on a full disk (OSError ENOSPC), for each file whose
path matches the shell-style PATTERN.
"""
import builtins
import errno
import fnmatch
import os
import runpy
import sys

REAL_OPEN = builtins.open


def main():
    pattern, script = sys.argv[1:3]

    def open_on_full_disk(file, mode='r', *args, **kwargs):
        if not mode.startswith('r') and isinstance(file, str) and fnmatch.fnmatch(file, pattern):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), file)
        return REAL_OPEN(file, mode, *args, **kwargs)

    builtins.open = open_on_full_disk
    sys.argv = sys.argv[2:]
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
