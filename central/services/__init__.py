"""County business rules; no web framework here."""
