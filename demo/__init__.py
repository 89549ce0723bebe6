"""Demo data: `python -m demo` fills a running stack with a believable marketplace for the operator console.

`plan.py` decides everything from the seed (pure data), `seeder.py` creates it through the API (and, for history
that lies in the past, through backdated workflow starts), `__main__.py` is the command line.
"""
