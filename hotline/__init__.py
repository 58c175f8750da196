"""The `hotline` command: one entry point, a subcommand per part of the suite."""
