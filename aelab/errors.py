"""Exceptions a user can cause, each with a message in the user's terms."""


class AelabError(Exception):
    """Base class for every error aelab raises on purpose."""


class DataError(AelabError):
    """A data set cannot be read or is not usable (names the file and what is wrong)."""


class CheckpointError(AelabError):
    """A model folder cannot be loaded or saved (names the file and what is wrong)."""


class ConfigError(AelabError):
    """A model or training setting is out of range or unknown."""
