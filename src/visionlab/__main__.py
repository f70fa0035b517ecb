"""`python -m visionlab` is the same as the `visionlab` command."""

from visionlab.cli import main

raise SystemExit(main())
