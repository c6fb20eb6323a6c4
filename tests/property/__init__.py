"""Property-based tests (Hypothesis, derandomized): every generated booking input becomes a body that
validates against HubSpot's spec or a ``BookingInputError`` naming a field, never another exception."""
