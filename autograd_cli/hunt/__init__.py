"""``gradcheck hunt``: search for expressions and points where a framework's derivative
is wrong, shrink each finding to its smallest reproducer, and deduplicate them.

One module per job: :mod:`.text` (our tree back to text the parser reads),
:mod:`.generate` (candidates from the function table, weighted toward edges),
:mod:`.points` (the points where errors live), :mod:`.judge` (which rows are findings,
and of what kind), :mod:`.shrink`, :mod:`.dedup`, :mod:`.search` (the loop) and
:mod:`.output` (markdown, suite TOML, JSON).
"""
