"""Runs one command under a systemd unit's restrictions without systemd (tests/deploy/
test_units.py; the machine has no systemd as PID 1).

Usage (as root): ``python -m tests.deploy.sandbox SPEC.json``. The spec (``tests.deploy.
units.sandbox_spec`` writes it) holds the command, its environment and the restrictions. This
process, alone and single-threaded, applies them to itself in the order systemd does, then
execs the command:

- namespaces: a private mount namespace (nothing propagates back), a UTS namespace
  (``ProtectHostname``), a network namespace with only ``lo`` up (``PrivateNetwork``);
- file system: everything read-only (``ProtectSystem=strict``) but the unit's writable paths
  (``ReadWritePaths``, ``StateDirectory``, ``CacheDirectory``); fresh ``/tmp`` and ``/var/tmp``
  (``PrivateTmp``); ``/home``, ``/root`` and ``/run/user`` empty and inaccessible
  (``ProtectHome``); a ``/dev`` with only null, zero, full, random, urandom, tty, pts and shm
  (``PrivateDevices``); a ``/proc`` that shows only the user's processes
  (``ProtectProc=invisible``) with ``/proc/sys`` and ``/sys`` read-only
  (``ProtectKernelTunables``, ``ProtectControlGroups``). The test's own folders, which live
  under ``/tmp``, are carried into the fresh ``/tmp`` at the same paths (``keep``);
- credentials: an empty capability bounding set, then the unit user's uid and gid, the
  ``UMask``, the working directory, ``NoNewPrivileges``;
- ``MemoryDenyWriteExecute`` both ways systemd has applied it: the kernel's
  ``prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN)`` (Linux 6.3+; this fails loudly without it)
  and the seccomp filter of systemd before that (no mmap writable and executable, no mprotect,
  pkey_mprotect or shmat to executable);
- seccomp, each a filter of its own as systemd loads them: ``SystemCallFilter`` (the allow
  list, anything else kills the process; native architecture only, which is
  ``SystemCallArchitectures=native``), ``RestrictAddressFamilies`` (other families:
  EAFNOSUPPORT), ``RestrictNamespaces=yes`` (unshare, clone and setns with a namespace flag:
  EPERM; clone3: ENOSYS, so that the C library falls back to clone).

Any step that fails stops with exit code 125 and what failed, before the command runs.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import socket
import struct
import sys
from pathlib import Path

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

# Linux constants (the new mount syscalls have one number on every architecture)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWNET = 0x00020000, 0x04000000, 0x40000000
NAMESPACE_FLAGS = {
    "cgroup": 0x02000000,
    "ipc": 0x08000000,
    "net": 0x40000000,
    "mnt": 0x00020000,
    "pid": 0x20000000,
    "user": 0x10000000,
    "uts": 0x04000000,
    "time": 0x00000080,
}
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442
OPEN_TREE_CLONE, AT_RECURSIVE, MOVE_MOUNT_F_EMPTY_PATH = 1, 0x8000, 4
AT_FDCWD = -100
MOUNT_ATTR_RDONLY = 1
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 24, 38, 65, 1
PROT_WRITE, PROT_EXEC, SHM_EXEC = 2, 4, 0o100000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 1

# libseccomp
SCMP_ACT_KILL_PROCESS, SCMP_ACT_ALLOW = 0x80000000, 0x7FFF0000
SCMP_CMP_GE, SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ = 5, 4, 7
MAX_ADDRESS_FAMILY = 64  # above AF_MAX of any kernel: every family up to it is decided


def _errno_action(code: int) -> int:
    """libseccomp's SCMP_ACT_ERRNO(code)."""
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


class SandboxError(Exception):
    pass


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(code)} (errno {code})")
    return result


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = ""):
    _check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {fstype or source} on {target}",
    )


def _read_only(path: str, recursive: bool = True, read_only: bool = True) -> None:
    attr = _MountAttr(
        attr_set=MOUNT_ATTR_RDONLY if read_only else 0,
        attr_clr=0 if read_only else MOUNT_ATTR_RDONLY,
    )
    flags = AT_RECURSIVE if recursive else 0
    _check(
        libc.syscall(
            SYS_MOUNT_SETATTR,
            AT_FDCWD,
            path.encode(),
            flags,
            ctypes.byref(attr),
            ctypes.sizeof(attr),
        ),
        f"mount_setattr {'ro' if read_only else 'rw'} {path}",
    )


def _detach(path: str) -> int:
    """A clone of the mounts at ``path`` (a file or folder), to be attached elsewhere later."""
    return _check(
        libc.syscall(
            SYS_OPEN_TREE, AT_FDCWD, path.encode(), OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC
        ),
        f"open_tree {path}",
    )


def _attach(fd: int, target: str) -> None:
    _check(
        libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH),
        f"move_mount to {target}",
    )
    os.close(fd)


def _make_target(path: str, is_dir: bool) -> None:
    """Create ``path`` and its missing parents (0755: traversable) on a fresh file system."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if is_dir:
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif not os.path.exists(path):
        Path(path).touch()


def _private_dev() -> None:
    nodes = ["null", "zero", "full", "random", "urandom", "tty"]
    saved = {name: _detach(f"/dev/{name}") for name in nodes}
    shm = _detach("/dev/shm")
    _mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755")
    for name, fd in saved.items():
        _make_target(f"/dev/{name}", is_dir=False)
        _attach(fd, f"/dev/{name}")
    os.mkdir("/dev/shm")
    _attach(shm, "/dev/shm")
    os.mkdir("/dev/pts")
    _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666")
    os.symlink("pts/ptmx", "/dev/ptmx")
    for i, name in enumerate(["stdin", "stdout", "stderr"]):
        os.symlink(f"/proc/self/fd/{i}", f"/dev/{name}")
    os.symlink("/proc/self/fd", "/dev/fd")
    _read_only("/dev", recursive=False)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | IFF_UP))


def _file_system(spec: dict) -> None:
    """ProtectSystem=strict with the writable paths, PrivateTmp, ProtectHome, PrivateDevices,
    ProtectProc, ProtectKernelTunables."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = {path: _detach(path) for path in spec["keep_read_only"] + spec["keep_writable"]}
    keep_dirs = {path for path in keep if os.path.isdir(path)}
    if spec["protect_system_strict"]:
        _read_only("/")
    hidden = []
    if spec["private_tmp"]:
        for path in ("/tmp", "/var/tmp"):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
            hidden.append(path)
    if spec["protect_home"]:
        for path in ("/home", "/root", "/run/user"):
            if os.path.isdir(path):
                # inaccessible, unless the test keeps something below it (its interpreter)
                mode = "0711" if any(k.startswith(path + "/") for k in keep) else "0000"
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode}")
                hidden.append(path)
    for path, fd in keep.items():
        if any(path.startswith(h + "/") for h in hidden):
            _make_target(path, path in keep_dirs)
        _attach(fd, path)
        _read_only(path, read_only=path in spec["keep_read_only"])
    for path in hidden:
        if path not in ("/tmp", "/var/tmp"):
            _read_only(path, recursive=False)
    if spec["private_devices"]:
        _private_dev()
    if spec["protect_proc"]:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible")
    if spec["protect_kernel_tunables"]:
        _mount("/proc/sys", "/proc/sys", None, MS_BIND | MS_REC)
        _read_only("/proc/sys")
        _read_only("/sys")


def _drop_privileges(spec: dict) -> None:
    if spec["capability_bounding_set_empty"]:
        last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
        for cap in range(last + 1):
            _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")
    os.setgroups([])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    os.umask(spec["umask"])
    os.chdir(spec["cwd"])
    if spec["no_new_privileges"]:
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


class _Filter:
    """One seccomp filter (libseccomp), native architecture only."""

    lib = None

    def __init__(self, default_action: int) -> None:
        if _Filter.lib is None:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
            lib.seccomp_init.restype = ctypes.c_void_p
            lib.seccomp_init.argtypes = [ctypes.c_uint32]
            lib.seccomp_rule_add_array.argtypes = [
                ctypes.c_void_p,
                ctypes.c_uint32,
                ctypes.c_int,
                ctypes.c_uint,
                ctypes.POINTER(_ArgCmp),
            ]
            lib.seccomp_load.argtypes = [ctypes.c_void_p]
            lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
            _Filter.lib = lib
        self.ctx = _Filter.lib.seccomp_init(default_action)
        if not self.ctx:
            raise SandboxError("seccomp_init failed")

    @staticmethod
    def number(name: str) -> int | None:
        nr = _Filter.lib.seccomp_syscall_resolve_name(name.encode())
        return None if nr < 0 else nr

    def add(self, action: int, name: str, *conditions: tuple[int, int, int, int]) -> None:
        nr = self.number(name)
        if nr is None:
            return  # not a system call of this architecture
        cmps = (_ArgCmp * max(1, len(conditions)))(*[_ArgCmp(*c) for c in conditions])
        result = _Filter.lib.seccomp_rule_add_array(self.ctx, action, nr, len(conditions), cmps)
        if result < 0:
            raise SandboxError(f"seccomp rule for {name} {conditions}: {os.strerror(-result)}")

    def load(self, what: str) -> None:
        result = _Filter.lib.seccomp_load(self.ctx)
        if result < 0:
            raise SandboxError(f"seccomp_load {what}: {os.strerror(-result)}")


def _memory_deny_write_execute() -> None:
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise SandboxError(
            f"prctl(PR_SET_MDWE): {os.strerror(code)}: this kernel ({os.uname().release}) "
            "cannot apply MemoryDenyWriteExecute (Linux 6.3+ needed)"
        )
    f = _Filter(SCMP_ACT_ALLOW)
    eperm = _errno_action(errno.EPERM)
    both = PROT_WRITE | PROT_EXEC
    f.add(eperm, "mmap", (2, SCMP_CMP_MASKED_EQ, both, both))
    f.add(eperm, "mprotect", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
    f.add(eperm, "pkey_mprotect", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
    f.add(eperm, "shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
    f.load("MemoryDenyWriteExecute")


def _seccomp(spec: dict) -> None:
    if spec["memory_deny_write_execute"]:
        _memory_deny_write_execute()
    if spec["address_families"] is not None:
        f = _Filter(SCMP_ACT_ALLOW)
        refuse = _errno_action(errno.EAFNOSUPPORT)
        for family in range(MAX_ADDRESS_FAMILY):
            if family not in spec["address_families"]:
                f.add(refuse, "socket", (0, SCMP_CMP_EQ, family, 0))
        f.add(refuse, "socket", (0, SCMP_CMP_GE, MAX_ADDRESS_FAMILY, 0))
        f.load("RestrictAddressFamilies")
    if spec["restrict_namespaces"]:
        f = _Filter(SCMP_ACT_ALLOW)
        eperm = _errno_action(errno.EPERM)
        for flag in NAMESPACE_FLAGS.values():
            f.add(eperm, "unshare", (0, SCMP_CMP_MASKED_EQ, flag, flag))
            f.add(eperm, "clone", (0, SCMP_CMP_MASKED_EQ, flag, flag))
        f.add(eperm, "setns")
        f.add(_errno_action(errno.ENOSYS), "clone3")
        f.load("RestrictNamespaces")
    if spec["syscall_allow"] is not None:
        f = _Filter(SCMP_ACT_KILL_PROCESS)
        for name in spec["syscall_allow"]:
            f.add(SCMP_ACT_ALLOW, name)
        f.load("SystemCallFilter")


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    try:
        flags = CLONE_NEWNS
        flags |= CLONE_NEWUTS if spec["protect_hostname"] else 0
        flags |= CLONE_NEWNET if spec["private_network"] else 0
        _check(libc.unshare(flags), "unshare")
        if spec["private_network"]:
            _loopback_up()
        _file_system(spec)
        _drop_privileges(spec)
        _seccomp(spec)
    except (SandboxError, OSError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr, flush=True)
        os._exit(125)
    os.execve(spec["argv"][0], spec["argv"], spec["env"])


if __name__ == "__main__":
    main()
