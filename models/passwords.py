"""Passwords: argon2id hashes, the NIST 800-63B length rules, checks off the event loop.

Hashing takes 64 MiB and tens of milliseconds, so it runs in worker threads, at most
``_CONCURRENCY`` at a time: a flood of logins waits its turn instead of exhausting memory
or stalling every other request.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from models.errors import DomainError, ErrorCode

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "check_policy", "hash_password", "verify_password"]

MIN_LENGTH = 15
MAX_LENGTH = 128
_CONCURRENCY = 2
# RFC 9106's second recommended option; stronger than OWASP's minimum (19 MiB, t=2).
_HASHER = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)
_POOL = ThreadPoolExecutor(max_workers=_CONCURRENCY, thread_name_prefix="argon2")
_COMMON = {
    "passwordpassword", "password12345678", "123456789012345", "1234567890123456", "qwertyuiopasdfgh",
    "qwertyuiopasdfghjkl", "iloveyouiloveyou", "abcdefghijklmnop", "aaaaaaaaaaaaaaa", "111111111111111",
    "000000000000000", "woaini1314woaini", "adminadminadmin", "welcome123456789", "letmeinletmein1",
    "qazwsxedcrfvtgb", "1q2w3e4r5t6y7u8i", "zxcvbnmasdfghjkl", "changemechangeme", "passw0rdpassw0rd",
}


def check_policy(password: str, field: str = "password") -> str:
    """At least 15 characters, at most 128, not a well-known password; nothing else."""
    if len(password) < MIN_LENGTH:
        raise DomainError.single(field, f"a password has at least {MIN_LENGTH} characters.", ErrorCode.INVALID)
    if len(password) > MAX_LENGTH:
        raise DomainError.single(field, f"a password has at most {MAX_LENGTH} characters.", ErrorCode.TOO_LONG)
    lowered = password.lower()
    if lowered in _COMMON or len(set(lowered)) <= 2:
        raise DomainError.single(field, "this password is too common; choose another.", ErrorCode.INVALID)
    return password


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_POOL, _HASHER.hash, password)


def _verify(stored: str, password: str) -> tuple[bool, bool]:
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, _HASHER.check_needs_rehash(stored)


async def verify_password(stored: str, password: str) -> tuple[bool, bool]:
    """``(matches, needs_rehash)``: a hash made with weaker parameters is upgraded by the caller."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, _verify, stored, password)
