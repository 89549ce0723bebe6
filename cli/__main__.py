"""`python -m cli`: the same as the installed `partnerflow` script."""

from cli.app import main

main()
