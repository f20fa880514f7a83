"""backoffice: RPA for back-office work, with evidence."""

__version__ = "0.1.0"
