"""County storage: the only package that imports Piccolo."""
