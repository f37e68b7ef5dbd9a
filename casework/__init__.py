"""The window's case work (intake and handling) shared by the county and the nodes.

Only rules live here: what may be recorded on a case, by whom, and what the answer says. The
storage a service needs (serial numbers, the query secret, request ids, the catalog in force) and
who the recording node is come in through the small protocols of :mod:`casework.ports`, so the
node adapts them onto SQLite and the county onto its database.
"""
