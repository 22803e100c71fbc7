"""Suites for CI: the suite file schema (:mod:`.schema`), reading it (:mod:`.load`), the
case types (:mod:`.model`), ``expect`` (:mod:`.expect`), running (:mod:`.run`), summary
and JSON (:mod:`.output`), JUnit (:mod:`.junit`), and project configuration discovered
from the working directory (:mod:`.config`)."""
