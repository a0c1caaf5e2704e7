"""Savings summaries: one set of figures (``figures``) rendered as CSV, XLSX, PDF and the
weekly status e-mail, for the API's downloads and ``wattleague report``."""
