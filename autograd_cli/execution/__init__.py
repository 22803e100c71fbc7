"""Running backends: each framework in its own worker process (:mod:`.worker`), kept warm
in a pool (:mod:`.runner`); a failing backend becomes a row, never a crash."""
