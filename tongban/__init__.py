"""The ``tongban`` command line: the composition root that wires shared, central and node."""
