"""Shared state: what several gateway processes must agree on (key budgets and rate windows, for now).

One interface, two implementations chosen once from the ``state:`` config: ``memory`` (this process only,
the embedded default) and ``redis`` (every replica pointed at one Redis; the ``redis`` extra). Keys call the
interface and never know which one runs.
"""

from tierwise.state.interface import KeyState, Quota, Refusal, Reservation, open_key_state

__all__ = ["KeyState", "Quota", "Refusal", "Reservation", "open_key_state"]
