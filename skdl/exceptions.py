"""Exceptions raised by skdl."""

__all__ = ["TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError, ValueError):
    """Training produced a NaN or infinite loss.

    It subclasses :class:`FloatingPointError` (what went wrong numerically)
    and :class:`ValueError` (so generic input-error handling catches it).
    """
