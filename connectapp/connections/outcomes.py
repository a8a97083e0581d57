"""What a worker's run came to when the service itself gave no answer.

`RefreshOutcome` and `VerifyOutcome` (in `services`) say what a refresh or a verification did;
these say why a task did not get one: the metrics count them beside those, and the command
names them the same way.
"""

from enum import StrEnum


class TaskOutcome(StrEnum):
    """Why a refresh or verification task has no service outcome."""

    THROTTLED = "throttled"  # sent back to the queue for the provider's rate limit
    UNAVAILABLE = "unavailable"  # the provider could not answer (or time ran out): retried later
    ERROR = "error"  # raised something unexpected
