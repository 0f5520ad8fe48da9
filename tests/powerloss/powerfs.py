#!/usr/bin/env python3
"""powerfs: a pass-through FUSE filesystem that forgets what was never synced.

    powerfs.py BACKING MOUNTPOINT [--dirs strict|with-file]

Every operation is passed through to the directory BACKING (the live state,
what a running program sees). Beside it, powerfs keeps in memory the
*durable* state: what a disk would still hold after a power cut.

What is modelled:

- File data and size. A write or truncate changes the live file only. An
  `fsync` or `fdatasync` of the file makes its current data and size
  durable (the ranges written since the last sync are copied into the
  durable image). `sync_file_range`, `close`, `flush` make nothing
  durable: FUSE does not even see them as syncs.
- Directory entries. Creating, unlinking and renaming files and
  directories changes the live namespace only. An `fsync` of a directory
  makes its current list of entries durable (names and the inodes they
  point to; a renamed file keeps its durable data under its new name).
  With `--dirs with-file`, an `fsync` of a file also makes its path
  durable (its entry and those of the directories above it, as ext4's
  journal does in practice); the default, `--dirs strict`, is what POSIX promises: only a
  directory's own fsync does.
- A file whose entry is durable but whose data was never synced comes back
  empty.

What is not modelled: torn or reordered sectors inside one sync interval
(all unsynced writes of a file are lost together), permissions, times,
hard links, symlinks, extended attributes.

Power cut: writing anything to the control file `/.powercut` at the root
of the mount. powerfs then refuses every further operation (EIO), replaces
BACKING with the durable state, and unmounts itself. Kill the programs that
use the mount first: a cut is "everything stops at once". The next mount of
BACKING starts from that state (everything in BACKING is durable at mount).
A summary of what the cut threw away is written to standard error.
"""

import argparse
import errno
import os
import shutil
import stat
import subprocess
import sys
import threading

from fuse import FUSE, FuseOSError, Operations

CONTROL = "/.powercut"
DEBUG = os.environ.get("POWERFS_DEBUG") == "1"


class Node:
    """One file or directory, named by an id that survives renames."""

    __slots__ = ("id", "is_dir", "durable", "dirty", "min_size", "entries")

    def __init__(self, node_id, is_dir):
        self.id = node_id
        self.is_dir = is_dir
        # Files: the durable bytes (None: never synced), the ranges written
        # since the last sync, the smallest size truncated to since then.
        self.durable = None
        self.dirty = []
        self.min_size = None
        # Directories: the durable entries, name -> node id.
        self.entries = {}


class PowerFS(Operations):
    def __init__(self, backing, dirs_mode):
        self.root = os.path.realpath(backing)
        self.dirs_mode = dirs_mode
        self.mutex = threading.RLock()
        self.next_id = 0
        self.nodes = {}  # id -> Node
        self.paths = {}  # live path ("/a/b") -> id
        self.cut = False
        self.mountpoint = None
        self._load()

    # ---- the model ------------------------------------------------------

    def _new(self, is_dir):
        self.next_id += 1
        n = Node(self.next_id, is_dir)
        self.nodes[n.id] = n
        return n

    def _load(self):
        """Everything in BACKING at mount time is durable."""
        root = self._new(True)
        self.paths["/"] = root.id
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = "/" + os.path.relpath(dirpath, self.root)
            rel = "/" if rel == "/." else rel
            parent = self.nodes[self.paths[rel]]
            for name in dirnames:
                n = self._new(True)
                self.paths[self._join(rel, name)] = n.id
                parent.entries[name] = n.id
            for name in filenames:
                n = self._new(False)
                with open(os.path.join(dirpath, name), "rb") as f:
                    n.durable = bytearray(f.read())
                self.paths[self._join(rel, name)] = n.id
                parent.entries[name] = n.id

    @staticmethod
    def _join(parent, name):
        return parent.rstrip("/") + "/" + name

    @staticmethod
    def _split(path):
        parent, name = path.rsplit("/", 1)
        return (parent or "/"), name

    def _real(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _node(self, path):
        node_id = self.paths.get(path)
        return self.nodes.get(node_id) if node_id is not None else None

    def _check(self):
        if self.cut:
            raise FuseOSError(errno.EIO)

    def _sync_file(self, path):
        n = self._node(path)
        if n is None or n.is_dir:
            return
        data = n.durable if n.durable is not None else bytearray()
        if n.min_size is not None and n.min_size < len(data):
            del data[n.min_size :]
        size = os.path.getsize(self._real(path))
        if n.dirty:
            with open(self._real(path), "rb") as f:
                for off, length in n.dirty:
                    f.seek(off)
                    chunk = f.read(length)
                    end = off + len(chunk)
                    if len(data) < end:
                        data.extend(b"\0" * (end - len(data)))
                    data[off:end] = chunk
        if len(data) > size:
            del data[size:]
        elif len(data) < size:
            data.extend(b"\0" * (size - len(data)))
        n.durable = data
        n.dirty = []
        n.min_size = None
        if self.dirs_mode == "with-file":
            # The file's path becomes durable: its entry and those of the
            # directories above it (one journal commit covers them all).
            child = path
            while child != "/":
                parent, name = self._split(child)
                p, c = self._node(parent), self._node(child)
                if p is not None and c is not None:
                    p.entries[name] = c.id
                child = parent
        if DEBUG:
            print("powerfs: fsync %s: %d durable bytes" % (path, len(data)), file=sys.stderr, flush=True)

    def _sync_dir(self, path):
        d = self._node(path)
        if d is None or not d.is_dir:
            return
        entries = {}
        for name in os.listdir(self._real(path)):
            node_id = self.paths.get(self._join(path, name))
            if node_id is not None:
                entries[name] = node_id
        d.entries = entries

    def _power_cut(self):
        """Replaces BACKING with the durable state; returns a summary."""
        lost_bytes = 0
        lost_files = 0
        for n in self.nodes.values():
            if not n.is_dir and n.dirty:
                lost_files += 1
                lost_bytes += sum(length for _, length in n.dirty)
        fresh = self.root + ".powercut"
        shutil.rmtree(fresh, ignore_errors=True)
        os.mkdir(fresh)
        seen = set()

        def restore(node, dest):
            for name, node_id in sorted(node.entries.items()):
                child = self.nodes[node_id]
                if child.id in seen:
                    continue  # a durable entry twice (both sides of a rename)
                seen.add(child.id)
                target = os.path.join(dest, name)
                if child.is_dir:
                    os.mkdir(target)
                    restore(child, target)
                else:
                    with open(target, "wb") as f:
                        f.write(child.durable or b"")
                        f.flush()
                        os.fsync(f.fileno())

        restore(self.nodes[self.paths["/"]], fresh)
        old = self.root + ".live"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(self.root, old)
        os.rename(fresh, self.root)
        shutil.rmtree(old, ignore_errors=True)
        return "powerfs: power cut: dropped %d unsynced byte(s) in %d file(s)" % (
            lost_bytes,
            lost_files,
        )

    # ---- the control file ------------------------------------------------

    def _control(self, path):
        return path == CONTROL

    def _do_cut(self):
        with self.mutex:
            if self.cut:
                return
            self.cut = True
            summary = self._power_cut()
        print(summary, file=sys.stderr, flush=True)
        # Unmount from another thread: this one is inside a FUSE request.
        threading.Thread(target=self._unmount, daemon=True).start()

    def _unmount(self):
        for cmd in (["fusermount", "-u", "-z", self.mountpoint], ["umount", "-l", self.mountpoint]):
            try:
                if subprocess.run(cmd, stderr=subprocess.DEVNULL).returncode == 0:
                    return
            except FileNotFoundError:
                continue

    # ---- FUSE operations ------------------------------------------------

    def getattr(self, path, fh=None):
        if self._control(path):
            return {"st_mode": stat.S_IFREG | 0o200, "st_nlink": 1, "st_size": 0}
        self._check()
        try:
            st = os.lstat(self._real(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {
            k: getattr(st, k)
            for k in (
                "st_atime",
                "st_ctime",
                "st_gid",
                "st_mode",
                "st_mtime",
                "st_nlink",
                "st_size",
                "st_uid",
            )
        }

    def access(self, path, amode):
        if self._control(path):
            return 0
        self._check()
        if not os.access(self._real(path), amode):
            raise FuseOSError(errno.EACCES)
        return 0

    def readdir(self, path, fh):
        self._check()
        return [".", ".."] + os.listdir(self._real(path))

    def statfs(self, path):
        st = os.statvfs(self.root)
        return {
            k: getattr(st, k)
            for k in (
                "f_bavail",
                "f_bfree",
                "f_blocks",
                "f_bsize",
                "f_favail",
                "f_ffree",
                "f_files",
                "f_flag",
                "f_frsize",
                "f_namemax",
            )
        }

    def chmod(self, path, mode):
        self._check()
        os.chmod(self._real(path), mode)
        return 0

    def chown(self, path, uid, gid):
        self._check()
        os.chown(self._real(path), uid, gid)
        return 0

    def utimens(self, path, times=None):
        self._check()
        os.utime(self._real(path), times)
        return 0

    def mkdir(self, path, mode):
        with self.mutex:
            self._check()
            os.mkdir(self._real(path), mode)
            self.paths[path] = self._new(True).id
        return 0

    def rmdir(self, path):
        with self.mutex:
            self._check()
            os.rmdir(self._real(path))
            self.paths.pop(path, None)
        return 0

    def unlink(self, path):
        with self.mutex:
            self._check()
            os.unlink(self._real(path))
            self.paths.pop(path, None)
        return 0

    def rename(self, old, new):
        with self.mutex:
            self._check()
            os.rename(self._real(old), self._real(new))
            moved = {}
            for p in list(self.paths):
                if p == old or p.startswith(old.rstrip("/") + "/"):
                    moved[new + p[len(old) :]] = self.paths.pop(p)
            for p in list(self.paths):
                if p == new or p.startswith(new.rstrip("/") + "/"):
                    self.paths.pop(p)
            self.paths.update(moved)
        return 0

    def link(self, target, source):
        raise FuseOSError(errno.ENOTSUP)

    def symlink(self, target, source):
        raise FuseOSError(errno.ENOTSUP)

    def readlink(self, path):
        raise FuseOSError(errno.EINVAL)

    def mknod(self, path, mode, dev):
        raise FuseOSError(errno.ENOTSUP)

    def open(self, path, flags):
        if self._control(path):
            return 0
        with self.mutex:
            self._check()
            # Offsets come from the kernel (O_APPEND resolved there): pwrite
            # must not append again.
            fd = os.open(self._real(path), flags & ~(os.O_CREAT | os.O_APPEND))
            if flags & os.O_TRUNC:
                self._truncated(path, 0)
            return fd

    def create(self, path, mode, fi=None):
        with self.mutex:
            self._check()
            existed = path in self.paths
            fd = os.open(self._real(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            if not existed:
                self.paths[path] = self._new(False).id
            else:
                self._truncated(path, 0)
            return fd

    def read(self, path, size, offset, fh):
        self._check()
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        if self._control(path):
            self._do_cut()
            return len(data)
        with self.mutex:
            self._check()
            # O_APPEND is resolved by the kernel before FUSE sees the write:
            # `offset` is where the bytes go.
            n = os.pwrite(fh, data, offset)
            node = self._node(path)
            if node is not None and n > 0:
                node.dirty.append((offset, n))
            return n

    def _truncated(self, path, length):
        node = self._node(path)
        if node is not None:
            node.min_size = length if node.min_size is None else min(node.min_size, length)

    def truncate(self, path, length, fh=None):
        if self._control(path):
            return 0
        with self.mutex:
            self._check()
            if fh is not None:
                os.ftruncate(fh, length)
            else:
                os.truncate(self._real(path), length)
            self._truncated(path, length)
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        if self._control(path):
            return 0
        os.close(fh)
        return 0

    def fsync(self, path, datasync, fh):
        if self._control(path):
            return 0
        with self.mutex:
            self._check()
            os.fsync(fh)
            self._sync_file(path)
        return 0

    def fsyncdir(self, path, datasync, fh):
        with self.mutex:
            self._check()
            self._sync_dir(path)
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("backing")
    ap.add_argument("mountpoint")
    ap.add_argument("--dirs", choices=["strict", "with-file"], default="strict")
    args = ap.parse_args()
    fs = PowerFS(args.backing, args.dirs)
    fs.mountpoint = os.path.realpath(args.mountpoint)
    FUSE(fs, args.mountpoint, foreground=True, nothreads=False, default_permissions=False)


if __name__ == "__main__":
    main()
