"""Sources: async iterables of raw records in DTO shape (or `Rejected` for unparsable input)."""
