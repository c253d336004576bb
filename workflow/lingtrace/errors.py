"""Errors that carry what a researcher needs to fix the problem: the file, key or example."""


class LingtraceError(Exception):
    """Base class: the message names the file, config key or example at fault."""


class ConfigError(LingtraceError):
    """A config value is wrong or contradicts another."""


class DataError(LingtraceError):
    """Input data breaks the data contract."""


class ArtifactError(LingtraceError):
    """An intermediate file (checkpoint, gradient shard, table) is missing, corrupt or mismatched."""


class NumericalError(LingtraceError):
    """A loss or gradient is NaN or infinite."""


class AnalysisError(LingtraceError, ValueError):
    """Tables given to an analysis or figure do not fit it (a wrong k, a missing column, mixed runs)."""
