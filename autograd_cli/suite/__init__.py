"""Suites for CI: the suite file schema and its running (:mod:`.run`), and project
configuration discovered from the working directory (:mod:`.config`)."""
