"""Schema extensions beyond error handling (see resolvers/errors.py for ErrorCodes)."""
