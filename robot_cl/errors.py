"""Errors with one-line messages that name the bad value and the valid choices."""


class RobotCLError(Exception):
    """Base class of the errors robot_cl raises for bad input."""


class ConfigError(RobotCLError, ValueError):
    """A malformed or unknown configuration value."""


class SkillError(RobotCLError, ValueError):
    """An unknown skill name, or a skill file that cannot be loaded."""


class DivergedError(RobotCLError):
    """Training produced a non-finite loss or parameter."""


def choices(names) -> str:
    """Comma-separated sorted list for error messages."""
    return ", ".join(sorted(names))
