"""Imports of past consumption, bills and outdoor temperature from files (``wattleague import``).

Parsers turn a file into rows with line numbers (``rows``); ``consumption`` and ``weather`` plan
and write them through the store and say what they did (``report``).
"""
