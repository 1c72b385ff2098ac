"""The `lab` command: lab.cli.main builds it from one module per command group."""
