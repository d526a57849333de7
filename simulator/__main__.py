import signal

from .cli import main

status = main()
# The command has ended: its folder is whole or absent and its lock released. A Ctrl-C or `kill` during
# the interpreter's exit would only turn that exit status into death by a signal.
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
raise SystemExit(status)
