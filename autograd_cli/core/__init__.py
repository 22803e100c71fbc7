"""What every layer shares and nothing in it imports from above: the request and result
model (:mod:`~autograd_cli.core.model`) and the dtypes (:mod:`~autograd_cli.core.dtypes`)."""
