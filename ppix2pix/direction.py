"""The translation direction: which side of a pair is the network's input. Handled here and nowhere else."""

DIRECTIONS = ("AtoB", "BtoA")
_ALIASES = {"atob": "AtoB", "a2b": "AtoB", "btoa": "BtoA", "b2a": "BtoA"}


def normalize_direction(value):
    """Map 'AtoB'/'a2b'/'BtoA'/'b2a' (any case) to 'AtoB' or 'BtoA'; anything else is an error."""
    key = str(value).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"direction must be one of AtoB, BtoA (aliases a2b, b2a), got {value!r}")
    return _ALIASES[key]


def input_and_target(direction, a, b):
    """Return (input, target) from the A and B sides of a pair for the given direction."""
    return (a, b) if normalize_direction(direction) == "AtoB" else (b, a)


def input_side(direction):
    """'A' or 'B': the side of a pair that the generator reads."""
    return "A" if normalize_direction(direction) == "AtoB" else "B"
