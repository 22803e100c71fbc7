"""What every layer shares and nothing in it imports from above: the request and result
model (:mod:`~autograd_cli.core.model`), the dtypes (:mod:`~autograd_cli.core.dtypes`)
and the environment's on/off switches (:mod:`~autograd_cli.core.switches`)."""
