"""`python -m pakn` runs the outbox worker (same as `python -m pakn.worker`)."""
from pakn.worker import main

raise SystemExit(main())
