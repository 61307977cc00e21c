"""Full-text search over files and users, indexed in the same ItemStore (see README.md)."""
