"""Comparing backends with the truth: points (:mod:`.points`), ranges (:mod:`.sweep`),
and the errors and verdicts both judge by (:mod:`.verdicts`)."""
