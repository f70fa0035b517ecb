"""`python -m visionlab` is the same as the `visionlab` command."""

from visionlab.cli import main

if __name__ == "__main__":  # a spawned DDP worker re-imports this module: it must not run the CLI again
    raise SystemExit(main())
