"""``python -m autograd_cli`` is the ``gradcheck`` command."""

from autograd_cli.cli import main

if __name__ == "__main__":
    main()
