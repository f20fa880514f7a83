"""The scaffold-name bot: payment requests from a CSV, checked, then written to a ledger.

The bot object is :data:`scaffold_pkg.bot.bot`, published under the ``backoffice.bots`` entry point
(see pyproject.toml); ``backoffice bots`` lists it once this package is installed.
"""
