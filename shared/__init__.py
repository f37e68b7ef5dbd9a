"""The domain every tier agrees on: catalog, case events and their fold, calendar, signatures.

Pure code only: nothing in this package performs I/O or imports a framework, so the county
centre and an offline township node compute exactly the same statuses and deadlines.
"""
