"""Password hashing with scrypt (salted, memory-hard) and constant-time checks."""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import secrets

# n=2**14, r=8, p=1: about 16 MiB and some tens of ms per hash (Pi 4 class).
_N, _R, _P = 2**14, 8, 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024


_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
_MMAP_THRESHOLD_BYTES = 1 << 20


def _return_big_blocks_to_the_system() -> None:
    """Blocks of 1 MiB and more come from mmap and go back to the kernel when freed.

    glibc raises its mmap threshold after the first 16 MiB scrypt buffer is
    freed, so later buffers come from the heap of each thread that hashes and
    stay resident: about 16 MiB per thread for good (50 MiB after a few logins
    on three threads).  A fixed threshold keeps the resident memory flat.
    Nothing happens on a C library without ``mallopt``.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        pass


_return_big_blocks_to_the_system()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P,
                            dklen=_DKLEN, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Check ``password`` against a stored hash in constant time."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r),
                                p=int(p), dklen=len(expected), maxmem=_MAXMEM)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


_DUMMY = hash_password(secrets.token_urlsafe(16))


def burn_time(password: str) -> None:
    """Spend the time of one check, so an unknown username takes as long as a bad password."""
    verify_password(password, _DUMMY)
