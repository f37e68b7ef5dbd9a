"""Township and community service node: works with its parent unreachable for days."""
