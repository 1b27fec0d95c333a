"""Destination secrets encrypted at rest with Fernet; the key from EVENTEXPORT_MASTER_KEY or a key file.

The key file is created on first use with mode 0600. Losing it makes stored secrets unreadable (the
destinations must then be added again), so back it up with the database.
"""

import hashlib
import hmac
import os

from cryptography.fernet import Fernet, InvalidToken

from transforms.errors import ConfigError

__all__ = ["Vault"]


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
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(Fernet.generate_key())
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
