"""User-facing error classes: every message names the file or key at fault and how to fix it."""


class ConfigError(ValueError):
    """A configuration problem; the message names the key and how to fix it."""
