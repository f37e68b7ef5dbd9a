"""Node business rules; no web framework here."""
