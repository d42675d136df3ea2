"""One exception hierarchy: every error names the problem and the fix, and maps to an exit code."""

from __future__ import annotations


class CurationError(Exception):
    """Base error. `hint` tells the user what to do; `exit_code` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(CurationError):
    """Bad user input: missing file, unknown column, bad encoding, unknown name. Exit code 2."""

    exit_code = 2


class ConfigError(InputError):
    """A config file or option is invalid."""


class ServiceError(CurationError):
    """A server (Argilla, the Hub, a local service) is down or refused the request. Exit code 3."""

    exit_code = 3


class ModelError(CurationError):
    """A model or artifact cannot be loaded or does not match what was asked for."""

    exit_code = 2
