"""Read-only LMDB environments shared by every dataset of a process and closed before it forks.

py-lmdb refuses to open an LMDB that is already open in the process (3.0 tracks this across fork()),
and LMDB forbids using an environment opened before fork() in the child. BasicSR's ``LmdbBackend`` opens
its own environments per dataset, so a training and a validation dataset on one LMDB collide when they
read in one process (``num_worker_per_gpu: 0``), and the loader's workers, forked for the next epoch
after validation opened the LMDB in the main process, cannot open it at all. Here each LMDB is opened
once per process; every environment is closed just before any fork, so children open their own, and the
parent reopens on its next read.
"""
import os
import os.path as osp
import threading

import lmdb
from basicsr.utils.file_client import LmdbBackend

_envs = {}  # real path of an LMDB folder -> (identity of its data.mdb, lmdb.Environment)
_lock = threading.Lock()


def shared_env(path):
    """The read-only environment of the LMDB folder ``path`` (as BasicSR opens it: no lock, no readahead).

    Opened on first use in this process; reopened when data.mdb has been replaced since (an LMDB re-created
    at the same path). Raises OSError when there is no data.mdb and lmdb.Error when LMDB cannot open it.
    """
    stat = os.stat(osp.join(path, 'data.mdb'))
    identity = (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)
    key = osp.realpath(path)
    with _lock:
        opened = _envs.get(key)
        if opened is None or opened[0] != identity:
            if opened is not None:
                opened[1].close()
            _envs[key] = (identity, lmdb.open(path, readonly=True, lock=False, readahead=False))
        return _envs[key][1]


def close_shared_envs():
    """Close every shared environment of this process (they reopen on the next read)."""
    with _lock:
        for _, env in _envs.values():
            env.close()
        _envs.clear()


os.register_at_fork(before=close_shared_envs)


class _EnvsByClientKey(dict):
    """client key -> LMDB path; looking a key up gives that LMDB's shared environment."""

    def __getitem__(self, client_key):
        return shared_env(super().__getitem__(client_key))


class SharedLmdbBackend(LmdbBackend):
    """BasicSR's ``LmdbBackend`` (same ``get(key, client_key)``) reading through the shared environments.

    Args:
        db_paths (list[str]): LMDB folders.
        client_keys (list[str]): A name for each, passed to ``get``.
    """

    def __init__(self, db_paths, client_keys):  # no super().__init__(): it would open environments of its own
        self.db_paths = [str(path) for path in db_paths]
        self._client = _EnvsByClientKey(zip(client_keys, self.db_paths))
