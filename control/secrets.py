"""Destination secrets encrypted at rest with Fernet; the key from EVENTEXPORT_MASTER_KEY or a key file.

The key file is created on first use with mode 0600, atomically: the key is written whole to a temporary
file beside it, then linked into place, which fails when the file exists. So of processes starting
together (an API, a scheduler) exactly one key wins and none ever reads a file still being written.
Losing it makes stored secrets unreadable (the destinations must then be added again), so back it up
with the database.
"""

import hashlib
import hmac
import os
import tempfile

from cryptography.fernet import Fernet, InvalidToken

from transforms.errors import ConfigError

__all__ = ["Vault"]


def _create_key_file(path):
    """A new key at `path` unless another process puts one there first; either way `path` then holds a whole key."""
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".eventexport-key-")
    try:
        with os.fdopen(descriptor, "wb") as handle:   # mkstemp's mode is 0600
            handle.write(Fernet.generate_key())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass   # another process linked its key first: that one is the deployment's
    finally:
        os.unlink(temporary)


class Vault:
    def __init__(self, settings):
        self._master = self._key(settings)
        self._fernet = Fernet(self._master)

    def derive(self, purpose):
        """A key for `purpose` (e.g. signing console sessions) derived from the master key, so the
        deployment keeps one secret; knowing a derived key tells nothing about the master key."""
        return hmac.new(self._master, purpose.encode(), hashlib.sha256).digest()

    @staticmethod
    def _key(settings):
        if settings.master_key:
            return settings.master_key.encode()
        path = settings.key_file
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)   # EVENTEXPORT_HOME, new
            _create_key_file(path)
        with open(path, "rb") as handle:
            return handle.read().strip()

    def seal(self, text):
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, token):
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigError("a stored secret cannot be decrypted: the master key differs from the one it was "
                              "saved with; restore the key (EVENTEXPORT_MASTER_KEY or the key file)") from None
