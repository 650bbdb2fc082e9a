"""Applications the production benchmark loads."""
