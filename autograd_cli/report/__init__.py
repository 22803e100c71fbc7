"""What a comparison hands the user: the report model (:mod:`.model`, which also owns the
exit code), its text/JSON/CSV/markdown renderings (:mod:`.render`), the sweep figure
(:mod:`.figure`) and the scripts that reproduce a row (:mod:`.show_code`)."""
