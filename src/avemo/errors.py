"""The errors avemo raises. Every one is an :class:`AvemoError`, whose message says what was wrong and how to fix it."""


class AvemoError(Exception):
    """Root of every error a user can cause; the CLI prints its message on one line, never a traceback."""


class ParameterError(AvemoError, ValueError):
    """An argument or configuration value is invalid."""


class MediaDecodeError(AvemoError):
    """A media file is missing, empty, truncated or not in a format avemo can decode."""


class AudioTooShortError(MediaDecodeError):
    """The audio is shorter than the model needs."""


class CorpusError(AvemoError):
    """A corpus folder does not have the expected layout or file names."""


class CheckpointError(AvemoError):
    """A model checkpoint is missing, incomplete or inconsistent."""


class AssetNotFoundError(AvemoError):
    """A model asset (pretrained encoder, shipped weights) could not be found."""


class NoFaceError(AvemoError):
    """No face was found where one was required."""


class FeatureFileError(AvemoError):
    """A feature file (e.g. OpenFace output) is missing, empty, malformed or lacks required columns."""
