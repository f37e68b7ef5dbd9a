"""What the county service and the node services both show: error shapes, language, page frame.

Both web apps register these pieces; neither imports the other.
"""
