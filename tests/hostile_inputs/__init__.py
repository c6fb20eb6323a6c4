"""At least 150 hostile inputs, table-driven, through the real operators, sensor and hook against the
sandbox: each is refused with ``BookingInputError`` naming the field, and the sandbox sees no request."""
