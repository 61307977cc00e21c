"""SettingsError lives apart from api.settings so the edge can name it without reading
settings: on Lambda the settings are read at the first invocation, not at module import."""


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the environment variable."""
