"""User-facing errors.

A :class:`WorkbenchError` carries one line that names the file (or key) at fault and the fix.
The CLI prints it alone (no traceback) and exits with status 2.
"""


class WorkbenchError(Exception):
    """A bad input the user can fix: missing dataset, corrupt frame, unknown config key, ..."""


class DatasetError(WorkbenchError):
    """A dataset root, layout or frame is missing or unreadable."""


class ConfigError(WorkbenchError):
    """A config file, override or notebook parameter is invalid."""


class CheckpointError(WorkbenchError):
    """A checkpoint does not fit the model it is loaded into."""


class ToolError(WorkbenchError):
    """An external tool (ffmpeg, x265) is missing or failed."""


class TrainingError(WorkbenchError):
    """A training run cannot go on (the loss became NaN or infinite); the last good checkpoint is kept."""
